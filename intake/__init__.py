"""The intake server: reports by SMS, e-mail, Messenger and X (issue 12).

An app beside the source and staff interfaces, served by ``sesim serve intake``
on its own port, so that the onion-only source interface never faces the
clearnet. One module per channel (sms.py, email.py, messenger.py, x.py); the
common path is in base.py, the texts she receives in texts.py.
"""
