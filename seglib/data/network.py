"""Whether a download host answers, within seconds (so that offline work fails fast)."""

from __future__ import annotations

#: Seconds to wait for the download host before giving up (offline: fail fast).
TFDS_PROBE_TIMEOUT = 10.0


def _unreachable(url: str, timeout: float | None = None) -> str | None:
    """Return why ``url``'s host does not answer over HTTP, or None when it answers.

    A ``HEAD`` request through :mod:`urllib` (which honours ``HTTPS_PROXY``), run in a
    daemon thread so that a slow DNS lookup cannot hold the caller much longer than
    ``timeout`` seconds (default :data:`TFDS_PROBE_TIMEOUT`). Any HTTP status counts as an
    answer: only "no answer" is reported.
    """
    import threading
    import urllib.error
    import urllib.request

    timeout = TFDS_PROBE_TIMEOUT if timeout is None else timeout
    outcome: list[str | None] = []

    def probe():
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout):
                outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # the server answered, even if with an error status
        except Exception as e:  # DNS failure, refused, timeout, TLS, proxy refused ...
            reason = getattr(e, "reason", None) or e
            outcome.append(f"{type(e).__name__}: {reason}")

    thread = threading.Thread(target=probe, name="seglib-tfds-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not outcome:
        return f"no answer within {timeout:.0f} s"
    return outcome[0]
