"""Reports over ingest's read side: are recommendations heeded, are alerts acknowledged?"""
