"""The reviewer workstation: offline, localhost only.

The one place where reports are decrypted and read, and where a private submission
key or the publication signing key exists. It imports the online staff app's
neighbours freely; the online apps never import it (a test holds them to that).
"""
