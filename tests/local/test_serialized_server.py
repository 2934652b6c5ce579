"""The local cloud's moto server handles one request at a time, as AWS is atomic per request.

Measured here without the lock (``serialized=False``), same workload, 5 runs: every run
lost 1 to 4 of 240 ``ADD`` updates, and 2 runs let two conditional puts win one key. With
it: none in any run. This test fails when the lock is removed (not on every run: races
are races, but the lost ``ADD`` showed in every run measured).
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from exactly_once_local.moto_server import free_port, moto_server

pytestmark = [pytest.mark.local, pytest.mark.slow]

THREADS = 8
KEYS = 30


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def test_conditional_puts_have_one_winner_and_no_add_is_lost(
    frequent_thread_switches: None,
) -> None:
    with moto_server(free_port(), serialized=True) as endpoint:

        def client() -> object:
            return boto3.client(
                "dynamodb",
                endpoint_url=endpoint.url,
                region_name=endpoint.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(max_pool_connections=THREADS),
            )

        table = f"race-{uuid.uuid4().hex[:8]}"
        admin = client()
        admin.create_table(  # type: ignore[attr-defined]
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        winners: dict[int, int] = {}
        tally = threading.Lock()
        start = threading.Barrier(THREADS)

        def contend(worker: int) -> None:
            ddb = client()
            start.wait()
            for key in range(KEYS):
                try:
                    ddb.put_item(  # type: ignore[attr-defined]
                        TableName=table,
                        Item={"id": {"S": f"k{key}"}, "winner": {"N": str(worker)}},
                        ConditionExpression="attribute_not_exists(id)",
                    )
                    with tally:
                        winners[key] = winners.get(key, 0) + 1
                except ClientError as exc:
                    assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
                ddb.update_item(  # type: ignore[attr-defined]
                    TableName=table,
                    Key={"id": {"S": "counter"}},
                    UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )

        threads = [threading.Thread(target=contend, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counter = admin.get_item(  # type: ignore[attr-defined]
            TableName=table, Key={"id": {"S": "counter"}}
        )["Item"]["n"]["N"]
        assert int(counter) == THREADS * KEYS, "an ADD was lost: requests are not atomic"
        doubles = {key: n for key, n in winners.items() if n > 1}
        assert not doubles, f"keys with two winning conditional puts: {doubles}"
        assert len(winners) == KEYS
