"""SMS rules every service shares.

How many segments a text costs, how a reply reads, what a phone number is (E.164). No
gateway here: the notifier sends through Kannel, ingest receives from it.
"""
