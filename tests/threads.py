"""Run work from several threads released together (races on PostgreSQL's real row locks)."""

import threading

from django.db import connection


def at_once(count, work):
    """Run work(i) in `count` threads released together; return the results (or the exceptions raised)."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test looks at
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
