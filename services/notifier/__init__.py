"""Notifier: delivers pages over channels and reports every outcome."""
