"""``python -m bench``: the ledger and orders consumers against the Powertools recipe.

Phases (one progress line each, on stderr):

1. accounting, batch size 10, no simulated latency: DynamoDB requests and capacity units
   per new message, per duplicate and in a mixed workload (new messages with 10% random
   redeliveries), batch by batch, with every effect checked afterwards;
2. throughput at batch sizes 10 and 100 (at least ten full batches of each) with a
   simulated AWS round trip per request, batch by batch; the mixed workload at batch 10;
3. refusal: batches of 10 orders, one SKU out of stock in each, through SQS queues, for
   the orders consumer and the Powertools recipe (``bench.refusal``), outcomes verified;
4. cold start: each handler module's import, and its readiness to handle a batch, in
   fresh interpreters (``bench.coldstart``);
5. storage and cost, from the figures above and ``bench.prices``.

Then a table on stdout (each figure for each side, the atomic/baseline ratio, and the
min/median/max per batch or per process where a figure has them; the sensitivity rows,
where a transaction's modeled round trip grows with its items; then the targets with
pass/fail) and JSON at ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.deployment import LAMBDA_MEMORY_MB
from bench.prices import LIST_PRICES, Prices

DEFAULT_OUT = Path("reports/bench.json")
BATCH_SIZES = (10, 100)
ACCOUNTING_BATCH = 10
WARMUP_MESSAGES = 10
QUICK_WARMUP_MESSAGES = 4
MIN_FULL_BATCHES = 10  # a full run measures each batch size over at least ten full batches
QUICK_MIN_FULL_BATCHES = 2  # a quick run measures a batch size only if it fills two
WARMUP_SEED_OFFSET = 7919
# ASSUMPTION (not measured): one SendMessage per message, plus one ReceiveMessage and one
# DeleteMessageBatch per batch of 10. Lambda's pollers also make empty receives, which
# this leaves out, and a producer batching its sends would pay less.
SQS_REQUESTS_PER_MESSAGE = 1 + 2 / ACCOUNTING_BATCH
SQS_ASSUMPTION = (
    f"SQS requests per message: {SQS_REQUESTS_PER_MESSAGE:g} = 1 SendMessage + 1 "
    f"ReceiveMessage and 1 DeleteMessageBatch per batch of {ACCOUNTING_BATCH}. Assumed, not "
    "measured: Lambda's pollers also make empty receives (not counted), and batched sends "
    "would cost less; the same on every side."
)
MIXED_SEED_OFFSET = 2


@dataclass(frozen=True)
class Settings:
    messages: int
    throughput_messages: int
    round_trip_ms: float
    import_runs: int
    instruction_runs: int
    seed: int
    rate_per_second: float
    memory_mb: int
    warmup_messages: int
    out: Path
    quick: bool


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run, a few seconds (CI); batch sizes with fewer than two full batches "
        "of messages are reported as not evaluated",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report path")
    parser.add_argument("--messages", type=int, help="messages in the accounting phase")
    parser.add_argument(
        "--throughput-messages",
        type=int,
        help="messages per throughput run (a full run raises it to ten full batches of each size)",
    )
    parser.add_argument("--rtt-ms", type=float, default=5.0, help="simulated AWS round trip")
    parser.add_argument("--import-runs", type=int, help="fresh-process imports per module")
    parser.add_argument(
        "--instruction-runs",
        type=_not_negative,
        help="fresh processes per module counted under valgrind (default 3; 0 or --quick: none)",
    )
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--rate", type=float, default=100.0, help="msg/s for the storage figure")
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=LAMBDA_MEMORY_MB,
        help=f"Lambda memory for cost (default {LAMBDA_MEMORY_MB}, the construct's)",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Settings(
        messages=args.messages or (20 if quick else 300),
        throughput_messages=args.throughput_messages or (20 if quick else 300),
        round_trip_ms=args.rtt_ms,
        import_runs=args.import_runs or (1 if quick else 21),
        instruction_runs=(
            args.instruction_runs if args.instruction_runs is not None else (0 if quick else 3)
        ),
        seed=args.seed,
        rate_per_second=args.rate,
        memory_mb=args.memory_mb,
        warmup_messages=QUICK_WARMUP_MESSAGES if quick else WARMUP_MESSAGES,
        out=args.out,
        quick=quick,
    )


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    elapsed = time.perf_counter() - _STARTED
    print(f"[bench {elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)


def _isolate_from_real_aws() -> None:
    """Fake credentials and a region before any client exists; Powertools kept quiet."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )


def _warm_up(side: Any, warmup: Any) -> None:
    """One new and one duplicate batch first, so first-call costs stay out of the figures."""
    side.meter.phase = "warmup"
    side.invoke(warmup.bodies)
    side.invoke(warmup.duplicates)


# --- phases --------------------------------------------------------------------------------


def _batch_cost(before: dict[str, Any], after: dict[str, Any], messages: int) -> dict[str, Any]:
    """What one batch cost: the difference of its phase's tally before and after it."""
    fields = ("requests", "write_units_upper", "write_units_lower", "transact_items")
    return {"messages": messages, **{f: after[f] - before[f] for f in fields}}


def run_accounting(settings: Settings) -> dict[str, Any]:
    """Requests and capacity units per message, priced item by item, effects verified."""
    import boto3

    from bench.meter import DynamoDBMeter
    from bench.sides import SIDES, build_side
    from bench.storage import mean_item_bytes
    from bench.workload import MIXED_REDELIVERY_RATE, batches, build_workload, mixed_batches
    from pipeline.resources import REGION, scan_items
    from pipeline.verdict import ledger_balances

    workload = build_workload(settings.messages, seed=settings.seed)
    warmup = build_workload(settings.warmup_messages, seed=settings.seed + WARMUP_SEED_OFFSET)
    # The mixed phase: new messages in batches of 10 where each message is, with
    # probability 0.1, a redelivery of one the "new" phase processed.
    fresh = build_workload(settings.messages, seed=settings.seed + MIXED_SEED_OFFSET)
    mixed = mixed_batches(
        fresh.bodies,
        workload.bodies,
        size=ACCOUNTING_BATCH,
        redelivery_rate=MIXED_REDELIVERY_RATE,
        seed=settings.seed + MIXED_SEED_OFFSET,
    )
    expected = workload.expected_balances()
    for extra in (warmup, fresh):
        for key, minor in extra.expected_balances().items():
            expected[key] = expected.get(key, 0) + minor
    phases = {
        "new": batches(workload.bodies, ACCOUNTING_BATCH),
        "duplicate": batches(workload.duplicates, ACCOUNTING_BATCH),
        "mixed": mixed,
    }
    processed = set(workload.bodies)
    redelivered_per_batch = [sum(body in processed for body in batch) for batch in mixed]
    results: dict[str, Any] = {}
    for name in SIDES:
        probe = boto3.client("dynamodb", region_name=REGION)
        meter = DynamoDBMeter(probe=probe)
        side = build_side(name, meter)
        _warm_up(side, warmup)
        per_batch: dict[str, list[dict[str, Any]]] = {}
        for phase, groups in phases.items():
            meter.phase = phase
            per_batch[phase] = []
            for batch in groups:
                before = meter.tally(phase).as_dict()
                response = side.invoke(batch)
                if response["batchItemFailures"]:
                    raise RuntimeError(f"{name}: unexpected item failures {response}")
                after = meter.tally(phase).as_dict()
                per_batch[phase].append(_batch_cost(before, after, len(batch)))
        meter.phase = "verify"
        applied = {
            key: minor
            for key, (minor, _) in ledger_balances(probe, side.resources.ledger_table).items()
        }
        if applied != expected:
            raise RuntimeError(f"{name}: balances differ from one application per transaction")
        records = list(scan_items(probe, side.idempotency_table))
        keys = len(workload.bodies) + len(warmup.bodies) + len(fresh.bodies)
        if len(records) != keys:
            raise RuntimeError(f"{name}: {len(records)} records for {keys} keys")
        results[name] = {
            "messages": len(workload.bodies),
            "messages_by_phase": {p: sum(map(len, groups)) for p, groups in phases.items()},
            "mixed": {
                "batch_size": ACCOUNTING_BATCH,
                "redelivery_rate": MIXED_REDELIVERY_RATE,
                "batches": len(mixed),
                "new_messages": len(fresh.bodies),
                "redelivered_duplicates": sum(redelivered_per_batch),
                "batches_with_a_redelivery": sum(1 for n in redelivered_per_batch if n),
                "redelivered_per_batch": redelivered_per_batch,
            },
            "tallies": {p: meter.tally(p).as_dict() for p in phases},
            "per_batch": per_batch,
            "record_bytes": mean_item_bytes(records),
            "retention_seconds": side.retention_seconds,
        }
    return results


def throughput_messages(settings: Settings, size: int) -> int:
    """Messages per throughput phase at batch size ``size``: enough for ``MIN_FULL_BATCHES``
    full batches in a full run (a quick run keeps its few)."""
    if settings.quick:
        return settings.throughput_messages
    return max(settings.throughput_messages, MIN_FULL_BATCHES * size)


def run_throughput(settings: Settings) -> dict[str, Any]:
    """Messages per second at each batch size, moto's own CPU time replaced by the RTT.

    Phases: new messages, their duplicates, and (at batch 10) the mixed workload (new
    messages with 10% random redeliveries). Each batch's modeled time is kept, so the
    report gives min/median/max per batch and the sensitivity rows' arithmetic.
    """
    from bench.meter import DynamoDBMeter
    from bench.sides import SIDES, build_side
    from bench.workload import MIXED_REDELIVERY_RATE, batches, build_workload, mixed_batches

    warmup = build_workload(settings.warmup_messages, seed=settings.seed + WARMUP_SEED_OFFSET)
    results: dict[str, Any] = {}
    for name in SIDES:
        results[name] = {}
        for size in BATCH_SIZES:
            skipped = not_evaluated_reason(settings, size)
            if skipped is not None:  # a partial batch measured once says nothing about `size`
                results[name][str(size)] = {"evaluated": False, "reason": skipped}
                continue
            workload = build_workload(throughput_messages(settings, size), seed=settings.seed + 1)
            phases = {
                "new": batches(workload.bodies, size),
                "duplicate": batches(workload.duplicates, size),
            }
            if size == ACCOUNTING_BATCH:
                fresh = build_workload(len(workload.bodies), seed=settings.seed + MIXED_SEED_OFFSET)
                phases["mixed"] = mixed_batches(
                    fresh.bodies,
                    workload.bodies,
                    size=size,
                    redelivery_rate=MIXED_REDELIVERY_RATE,
                    seed=settings.seed + MIXED_SEED_OFFSET,
                )
            meter = DynamoDBMeter(round_trip_seconds=settings.round_trip_ms / 1000)
            side = build_side(name, meter)
            _warm_up(side, warmup)
            runs: dict[str, Any] = {"evaluated": True}
            for phase, groups in phases.items():
                meter.phase = phase
                tally = meter.tally(phase)
                per_batch = []
                for batch in groups:
                    moto_before, items_before = tally.moto_seconds, tally.transact_items
                    requests_before = tally.requests
                    started = time.perf_counter()
                    side.invoke(batch)
                    wall = time.perf_counter() - started
                    per_batch.append(
                        {
                            "messages": len(batch),
                            "requests": tally.requests - requests_before,
                            "modeled_seconds": max(wall - (tally.moto_seconds - moto_before), 1e-9),
                            "transact_items": tally.transact_items - items_before,
                        }
                    )
                runs[phase] = throughput_phase(per_batch, size, tally.as_dict())
            results[name][str(size)] = runs
    return results


def throughput_phase(
    per_batch: list[dict[str, Any]], size: int, tally: dict[str, Any]
) -> dict[str, Any]:
    """One phase's throughput figures from its batches' modeled times."""
    messages = sum(batch["messages"] for batch in per_batch)
    modeled = sum(batch["modeled_seconds"] for batch in per_batch)
    return {
        "messages": messages,
        "batches": len(per_batch),
        "full_batches": sum(1 for batch in per_batch if batch["messages"] == size),
        "requests": tally["requests"],
        "requests_per_message": tally["requests"] / messages,
        "moto_seconds": tally["moto_seconds"],
        "simulated_round_trip_seconds": tally["simulated_seconds"],
        "transact_items": tally["transact_items"],
        "modeled_seconds": modeled,
        "messages_per_second": messages / modeled,
        "modeled_seconds_per_batch": modeled / len(per_batch),
        "per_batch": per_batch,
    }


def not_evaluated_reason(settings: Settings, size: int) -> str | None:
    """Why batch size ``size`` is not measured, or None when it is (a full run always sends
    ``MIN_FULL_BATCHES`` full batches; a quick run needs ``QUICK_MIN_FULL_BATCHES``)."""
    if throughput_messages(settings, size) >= QUICK_MIN_FULL_BATCHES * size:
        return None
    if settings.quick:
        return "not evaluated (--quick)"
    return (
        f"not evaluated: {settings.throughput_messages} messages make fewer than "
        f"{QUICK_MIN_FULL_BATCHES} full batches of {size}"
    )


def run_coldstart(settings: Settings) -> dict[str, Any]:
    """Per side, the fresh-process times and page faults, and the instruction counts
    (``instructions``) or why they were not counted (``instructions_not_counted``)."""
    from bench.coldstart import (
        MODULES,
        instructions_to_ready,
        median_import_seconds,
        valgrind_missing,
    )

    measured = median_import_seconds(settings.import_runs)
    coldstart = {side: {"module": module, **measured[module]} for side, module in MODULES.items()}
    missing = "--quick" if settings.quick else valgrind_missing()
    if settings.instruction_runs < 1:
        missing = missing or "--instruction-runs 0"
    if missing is not None:
        for entry in coldstart.values():
            entry["instructions_not_counted"] = missing
        return coldstart
    progress(
        f"cold start: instructions to ready under valgrind, {settings.instruction_runs} fresh "
        "processes per handler module and the bare interpreter"
    )
    counted = instructions_to_ready(settings.instruction_runs)
    for entry in coldstart.values():
        if isinstance(counted, str):
            entry["instructions_not_counted"] = counted
        else:
            entry["instructions"] = counted[entry["module"]]
    return coldstart


# --- derived figures -------------------------------------------------------------------------


def cost_per_million(
    *,
    accounting: dict[str, Any],
    throughput: dict[str, Any],
    side: str,
    phase: str,
    settings: Settings,
    prices: Prices,
    bound: str = "upper",
) -> dict[str, float]:
    """USD per million messages at batch size 10, by billed dimension.

    ``bound`` picks the capacity bound (``upper`` or ``lower``, see ``bench.meter``); they
    differ only where a transaction was cancelled.
    """
    from bench.capacity import STORAGE_OVERHEAD_BYTES
    from bench.report import per_message
    from bench.storage import TTL_LAG_SECONDS, storage_usd_per_million

    invocations = 1e6 / ACCOUNTING_BATCH
    run = throughput[side][str(ACCOUNTING_BATCH)][phase]
    billed_ms = math.ceil(run["modeled_seconds_per_batch"] * 1000)  # billed per 1 ms
    gb_seconds = invocations * billed_ms / 1000 * settings.memory_mb / 1024
    sqs_requests = 1e6 * SQS_REQUESTS_PER_MESSAGE  # an assumption, see SQS_ASSUMPTION
    costs = {
        "lambda_requests": invocations * prices.lambda_per_million_requests / 1e6,
        "lambda_duration": gb_seconds * prices.lambda_per_gb_second,
        "dynamodb_writes": per_message(accounting, side, phase, f"write_units_{bound}")
        * prices.dynamodb_per_million_write_units,
        "dynamodb_reads": per_message(accounting, side, phase, f"read_units_{bound}")
        * prices.dynamodb_per_million_read_units,
        "dynamodb_storage": 0.0,
        "sqs_requests": sqs_requests * prices.sqs_per_million_requests / 1e6,
    }
    if phase == "new":  # only a new message leaves a record behind
        entry = accounting[side]
        costs["dynamodb_storage"] = storage_usd_per_million(
            billed_bytes_per_record=entry["record_bytes"] + STORAGE_OVERHEAD_BYTES,
            stored_seconds=entry["retention_seconds"] + TTL_LAG_SECONDS,
            usd_per_gib_month=prices.dynamodb_per_gb_month,
        )
    costs["total"] = sum(costs.values())
    return costs


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    _isolate_from_real_aws()
    started = time.perf_counter()
    progress("starting moto (in process)")
    from moto import mock_aws

    from bench.report import build_report, print_report

    with mock_aws():
        progress(
            f"accounting: {settings.messages} messages + duplicates, then a mixed phase "
            "(10% random redeliveries), batch 10, 3 sides"
        )
        accounting = run_accounting(settings)
        sizes = [z for z in BATCH_SIZES if not_evaluated_reason(settings, z) is None]
        counts = ", ".join(f"{throughput_messages(settings, z)} at batch {z}" for z in sizes)
        progress(
            f"throughput: messages + duplicates ({counts}; mixed at batch 10), "
            f"{settings.round_trip_ms:g} ms per request"
        )
        throughput = run_throughput(settings)
        from bench.refusal import batch_count, run_refusal

        progress(
            f"refusal: {batch_count(settings)} batches of 10 orders, 1 SKU short in each, "
            "through SQS, 2 sides"
        )
        refusal = run_refusal(settings)
    progress(
        f"cold start: {settings.import_runs} fresh processes per handler module (import, "
        "then ready to handle a batch)"
    )
    coldstart = run_coldstart(settings)
    progress("storage and cost")
    costs = {
        side: {
            f"{phase}_{bound}": cost_per_million(
                accounting=accounting,
                throughput=throughput,
                side=side,
                phase=phase,
                settings=settings,
                prices=LIST_PRICES,
                bound=bound,
            )
            for phase in ("new", "duplicate")
            for bound in ("upper", "lower")
        }
        for side in accounting
    }
    report = build_report(
        settings=settings,
        accounting=accounting,
        throughput=throughput,
        coldstart=coldstart,
        costs=costs,
        refusal=refusal,
        prices=LIST_PRICES,
        elapsed_seconds=time.perf_counter() - started,
    )
    print_report(report)
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    settings.out.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    progress(f"done in {time.perf_counter() - started:.1f} s; JSON written to {settings.out}")
    return 0
