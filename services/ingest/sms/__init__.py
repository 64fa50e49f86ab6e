"""SMS to coord: an officer's reply (``ACK 4821``) acting through the command path."""
