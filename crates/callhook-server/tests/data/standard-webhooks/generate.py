"""Regenerates vectors.json with the reference implementation of Standard Webhooks.

    python3 -m venv /tmp/sw && /tmp/sw/bin/pip install standardwebhooks==1.1.0
    /tmp/sw/bin/python generate.py > vectors.json

The signatures are computed by `standardwebhooks.Webhook.sign` (PyPI `standardwebhooks`, the
Standard Webhooks project's Python library), not by callhook, so the Rust tests check callhook's
signer against the published scheme.
"""
import json
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

CASES = [
    ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
     '{"test": 2432232314}'),
    ("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "f1e1c3a0-0000-4000-8000-000000000001", 1795460133,
     '{"@odata.type":"#microsoft.graph.commsNotifications","value":[]}'),
    ("whsec_dGhpcyBpcyBhIDMyIGJ5dGUgc2VjcmV0IGtleSE=", "callhook-7", 0, ""),
    ("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "msg with spaces.and.dots", 4102444800,
     '{"caller":"Zoë Ångström","tone":"tone#"}'),
]

vectors = []
for secret, msg_id, timestamp, body in CASES:
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=timezone.utc), body)
    vectors.append({"secret": secret, "id": msg_id, "timestamp": timestamp, "body": body,
                    "signature": signature})
print(json.dumps({"generator": "standardwebhooks 1.1.0 (PyPI), Webhook.sign", "vectors": vectors},
                 indent=2, ensure_ascii=False))
