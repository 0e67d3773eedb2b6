"""An SMTP server for the tests (aiosmtpd): STARTTLS required, with CERT/KEY; every message
it accepts is written to OUTDIR/mail-N.eml. Run from the test virtualenv that
`scripts/ensure-deps smtp` makes.

    smtp_server.py PORT CERT KEY OUTDIR
"""
import asyncio
import os
import ssl
import sys

from aiosmtpd.controller import Controller

port, cert, key, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Keep:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(outdir, "mail-%d.eml" % self.count)
        with open(path, "wb") as f:
            f.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(b"X-Was-TLS: " + (b"yes" if session.ssl else b"no") + b"\r\n")
            f.write(envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode())
        return "250 OK"


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
controller = Controller(Keep(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
controller.start()
print("ready", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
