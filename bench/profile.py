"""Where the services spend their time under the end-to-end load: py-spy on each process.

``python -m bench.profile --database sqlite --seconds 15`` starts the system as
``make bench`` does, has ``--concurrency`` clients post alerts back to back, and
samples each service process with py-spy meanwhile (py-spy needs ptrace: root, or
``kernel.yama.ptrace_scope=0``). For each service it prints the functions with the
most samples (inclusive, and self) and writes the collapsed stacks
(``<out>/<service>.txt``, flamegraph.pl or speedscope read them).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
from pathlib import Path

from bench.alerts import plain_posts, running_system, throughput
from bench.counters import cpu_seconds
from shared.logging import configure_logging
from shared.settings import Settings

# Frames below these are the event loop and the interpreter, not coord's choices.
_NOISE = ("<module>", "run (asyncio", "run_forever", "_run_once", "_run (asyncio")


def summarise(collapsed: Path, top: int) -> str:
    """The ``top`` functions by inclusive and by self samples, as text."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if not f.startswith(_NOISE)]
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"-- {title}")
        lines.extend(
            f"{100 * n / max(total, 1):5.1f}%  {frame}" for frame, n in counter.most_common(top)
        )
    return "\n".join(lines)


async def profile(
    kind: str, seconds: float, concurrency: int, out: Path, top: int, *, sample: bool
) -> None:
    """Run the load with every service under py-spy; print each summary."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    async with running_system(kind) as system:
        client = await system.client("jo.operator")
        samplers = {}
        for name, service in system.services.items() if sample else ():
            if service.process is None:  # not started
                continue
            samplers[name] = subprocess.Popen(  # noqa: ASYNC220 - started, not awaited
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(service.process.pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(out / f"{name}.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        before = cpu_seconds()
        result = await throughput(system, plain_posts(client), concurrency, seconds)
        after = cpu_seconds()
        for sampler in samplers.values():
            await asyncio.to_thread(sampler.wait)
    print(f"{kind}: {result.delivered_per_s:.1f} alerts/s delivered, {result.accepted} accepted")
    print(f"CPU over the {result.seconds:.1f} s of load, share of one core:")
    busy = {k: v - before.get(k, 0.0) for k, v in after.items()}
    for name, used in sorted(busy.items(), key=lambda kv: -kv[1])[:12]:
        print(f"{100 * used / result.seconds:6.1f}%  {name}")
    for name in samplers:
        print(f"\n=== {name}")
        print(summarise(out / f"{name}.txt", top))


def main() -> None:
    """Parse the options and profile."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--cpu-only", action="store_true", help="no py-spy: only the CPU each process used"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/profiles"))
    args = parser.parse_args()
    configure_logging(Settings(log_level="warning"))
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(
        profile(
            args.database,
            args.seconds,
            args.concurrency,
            args.out,
            args.top,
            sample=not args.cpu_only,
        )
    )


if __name__ == "__main__":
    main()
