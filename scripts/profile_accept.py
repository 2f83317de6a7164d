"""CPU time and SQL statements of one accepted POST /api/v1/submissions/, in process.

    python scripts/profile_accept.py [--requests 300] [--profile]

Production settings, Django's test client (no HTTP server), distinct 320x320 JPEGs (as
scripts/bench_accept.py posts them), a fresh API client, its own PostgreSQL database, DATA_DIR and
Redis database (the enqueued tasks are dropped at the end). Prints the SQL statements of one
request and the CPU time per request (`time.process_time`, so other jobs on the machine barely
move it); `--profile` adds a cProfile listing (CPU time) of the second half of the requests.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time

# Django's test client calls itself "testserver"; bench_accept supplies the rest of the
# environment (its own database, DATA_DIR and Redis database) and sys.path when imported.
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
WARM_UP_REQUESTS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    from bench_accept import make_images, require_empty_broker, setup

    require_empty_broker()
    token = setup().token
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    images = make_images(options.requests + WARM_UP_REQUESTS + 1, 320, seed=int(time.time()))
    client = Client()

    def post(index: int) -> None:
        upload = io.BytesIO(images[index])
        upload.name = "p.jpg"
        response = client.post(
            "/api/v1/submissions/",
            {"media": upload, "external_id": f"profile-{index}"},
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_X_FORWARDED_PROTO="https",
        )
        if response.status_code != 202:
            raise SystemExit(f"answer {response.status_code}: {response.content[:300]!r}")

    try:
        for index in range(WARM_UP_REQUESTS):
            post(index)
        with CaptureQueriesContext(connection) as queries:
            post(WARM_UP_REQUESTS)
        print(f"SQL statements per request: {len(queries.captured_queries)}")
        for query in queries.captured_queries:
            print(f"    {query['sql'][:110]}")
        first = WARM_UP_REQUESTS + 1
        timed = range(
            first, first + (options.requests // 2 if options.profile else options.requests)
        )
        started = time.process_time()
        for index in timed:
            post(index)
        cpu_ms = (time.process_time() - started) * 1000 / len(timed)
        print(f"CPU per request (test client included): {cpu_ms:.2f} ms over {len(timed)}")
        if options.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for index in range(timed.stop, first + options.requests):
                post(index)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(50)
    finally:
        import redis

        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()


if __name__ == "__main__":
    main()
