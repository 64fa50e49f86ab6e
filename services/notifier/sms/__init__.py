"""The SMS channel: text that fits one SMS, sending through Kannel, its delivery reports."""
