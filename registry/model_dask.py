"""The ex-ante beyond one process: the selection's stands read from the database partition by
partition, each partition projected on a dask worker, per-stand results written as Parquet,
the totals reduced on the driver.

Why: the in-process run (:func:`registry.carbon_model.run_ex_ante`) holds every stand × year of
eight arrays (stocks, changes, removals) in memory at once — 1,000,000 stands × 60 years is
8 × 480 MB of float64 plus the per-stand frame — so it cannot grow past the machine. Here the
driver holds at most a few partitions (``partition_stands`` stands each) and the workers one
partition each; the per-stand rows go to disk (``out/part-NNNNN.parquet``).

Partitions follow the model's coupling, so that the results equal the in-process run's:

* forest management (AR-CM-003-V01) couples stands through the yearly cut quota 采伐限额
  (oldest first, ``forest_management._simulate``): a partition holds one county (the quota's
  scope, ``stand.county_code``) whole, in stand-key order as the in-process run reads it; both
  apply each county's own quota (the 采伐限额 is set per county), so they agree.
* afforestation and bamboo do not couple stands: partitions are chunks of ``partition_stands``
  stands in stand-key order (read by key ranges, never all at once).

Per-year totals are sums over stands, so they are sums of the partitions' totals (the
cumulative column too: a sum of per-stand cumulative sums).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlmodel import col

from methodologies import catalogue
from methodologies.errors import InputError, MethodologyError
from methodologies.growth import GrowthCurve
from registry.carbon_model import latest_growth_curves, selection_statement, stands_frame
from registry.db import session_scope
from registry.errors import Failure, Invalid, OutputNotWritable, SelectionError
from registry.models import Stand
from registry.progress import NullProgress, ProgressReporter

__all__ = [
    "DEFAULT_PARTITION_STANDS",
    "DistributedExAnte",
    "SchedulerUnreachable",
    "partition_ex_ante",
    "run_ex_ante_dask",
    "run_partitions",
]

DEFAULT_PARTITION_STANDS = 50_000
LOCAL_WORKERS = 2
BY_YEAR_COLUMNS = (
    "baseline_stock", "project_stock", "baseline_change", "project_change", "leakage",
    "project_emissions", "net_removals", "cumulative_net_removals",
)  # fmt: skip


class SchedulerUnreachable(Failure):
    """The dask scheduler named on the command line cannot be reached."""


@dataclass
class PartitionTotals:
    """What a worker sends back for one partition (small: years × columns, strata, groups)."""

    path: str
    stands: int
    by_year: pd.DataFrame
    by_stratum: pd.DataFrame
    by_species_group: pd.DataFrame
    effects: dict[str, float]
    unverified: list[str]
    error: tuple[str, str] | None = None  # a refusal of the science: (zh, en)


@dataclass
class DistributedExAnte:
    """The reduced ex-ante of a dask run (t CO2e); the per-stand rows are in ``out``."""

    methodology: str
    stands: int
    partitions: int
    by_year: pd.DataFrame
    by_stratum: pd.DataFrame
    by_species_group: pd.DataFrame
    out: Path
    effects: dict[str, float] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return float(self.by_year["net_removals"].sum())


def _summary(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per ``key``: stands, net removals over the period and the stocks of the last year."""
    last = frame["year"] == frame["year"].max()
    ends = frame[last].groupby(key, dropna=False)[["baseline_stock_tco2e", "project_stock_tco2e"]]
    out = pd.DataFrame({
        "stands": frame[last].groupby(key, dropna=False)["stand_id"].count(),
        "net_removals_tco2e": frame.groupby(key, dropna=False)["net_removals_tco2e"].sum(),
    }).join(ends.sum())  # fmt: skip
    return out.reset_index()


def partition_ex_ante(
    code: str, stands: pd.DataFrame, curves: list[GrowthCurve], start_year: int, years: int,
    planted_group: str, path: str,
) -> PartitionTotals:  # fmt: skip
    """One partition's ex-ante (on a worker): the methodology's own function on these stands,
    its per-stand rows (``ExAnteResult.long`` plus ``species_group``) written to ``path``
    (Parquet), its totals returned. A refusal of the science comes back as ``error`` (the
    exception's messages), not raised: the driver refuses the run with them."""
    record = catalogue.methodology(code)
    try:
        result = record.ex_ante(stands, curves, start_year, years, planted_group)
    except MethodologyError as exc:
        empty = pd.DataFrame()
        return PartitionTotals(
            path, 0, empty, empty, empty, {}, [], (exc.message_zh, exc.message_en)
        )
    rows = result.long()
    groups = pd.Series(stands["species_group"].to_numpy(dtype=object), index=stands["stand_id"])
    rows["species_group"] = np.repeat(
        groups.reindex(result.stand_ids).to_numpy(dtype=object), len(result.years)
    )
    rows.to_parquet(path, index=False)
    return PartitionTotals(
        path,
        len(result.stand_ids),
        result.by_year(),
        _summary(rows, "stratum"),
        _summary(rows, "species_group"),
        dict(result.effects),
        result.unverified(),
    )


def _read_partitions(
    engine: Engine, selection: str, code: str, partition_stands: int
) -> tuple[int, Iterator[pd.DataFrame]]:
    """The number of selected stands and the partitions' stand frames, read one at a time."""
    record = catalogue.methodology(code)
    with session_scope(engine) as session:
        stmt = selection_statement(session, selection)
        count = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        counties: list[str | None] = []
        if record.code == catalogue.MethodologyCode.FOREST_MANAGEMENT:
            counties = list(
                session.execute(
                    stmt.with_only_columns(col(Stand.county_code)).distinct().order_by(None)
                ).scalars()
            )
            counties.sort(key=lambda c: (c is None, c or ""))
    if count == 0:
        raise SelectionError(
            f"选择 {selection!r} 没有选中任何当前小班。",
            f"the selection {selection!r} selects no current stand.",
        )

    def by_county() -> Iterator[pd.DataFrame]:
        for county in counties:
            with session_scope(engine) as session:
                stmt = selection_statement(session, selection)
                where = (
                    col(Stand.county_code).is_(None)
                    if county is None
                    else col(Stand.county_code) == county
                )
                yield stands_frame(session.execute(stmt.where(where)))

    def by_key_range() -> Iterator[pd.DataFrame]:
        last: str | None = None
        while True:
            with session_scope(engine) as session:
                stmt = selection_statement(session, selection)
                if last is not None:
                    stmt = stmt.where(col(Stand.stand_key) > last)
                frame = stands_frame(session.execute(stmt.limit(partition_stands)))
            if frame.empty:
                return
            last = str(frame["stand_id"].iloc[-1])
            yield frame

    return count, (by_county() if counties else by_key_range())


def _client(scheduler: str | None) -> tuple[Any, Any]:
    """A client of the scheduler given, or of a new local cluster (2 worker processes)."""
    import distributed  # untyped: its objects are Any here

    Client: Any = distributed.Client
    LocalCluster: Any = distributed.LocalCluster

    if scheduler:
        return _remote(Client, scheduler), None
    cluster = LocalCluster(
        n_workers=LOCAL_WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return Client(cluster), cluster


CONNECT_DEADLINE_S = (
    20.0  # a scheduler that never completes its handshake (a web port) waits no longer
)


def _remote(client_class: Any, scheduler: str) -> Any:
    """A client of the scheduler at ``tcp://host:port``, or a bilingual refusal: another scheme,
    a refusal, anything else the connection raises, or no handshake within the deadline."""
    import threading

    if not scheduler.startswith("tcp://"):
        raise SchedulerUnreachable(
            f"dask 调度器地址须为 tcp://主机:端口（不是 {scheduler!r}）。",
            f"the dask scheduler's address must be tcp://host:port (not {scheduler!r}).",
        )
    got: dict[str, Any] = {}

    def connect() -> None:
        try:
            got["client"] = client_class(scheduler, timeout="5s")
        except BaseException as exc:  # whatever the wrong peer makes the handshake raise
            got["error"] = exc

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(CONNECT_DEADLINE_S)
    if "client" in got:
        return got["client"]
    reason = got.get("error", f"no answer within {CONNECT_DEADLINE_S:.0f} s")
    raise SchedulerUnreachable(
        f"无法连接 dask 调度器 {scheduler!r}（调度端口通常为 8786，8787 是仪表盘）：{reason}",
        f"cannot reach the dask scheduler {scheduler!r} (its port is usually 8786; 8787 is the "
        f"dashboard): {reason}",
    )


def _prepare_out(out: Path) -> Path:
    """A fresh folder beside ``out`` to write into (renamed to ``out`` when all succeeded);
    ``out`` may exist only as an earlier run's Parquet parts (a re-run replaces them)."""
    if out.exists() and (
        not out.is_dir() or any(not p.name.startswith("part-") for p in out.iterdir())
    ):
        raise OutputNotWritable(
            f"输出目录 {str(out)!r} 已存在且含有其他文件：请指定新的目录。",
            f"the output folder {str(out)!r} exists and holds other files: name a new folder.",
        )
    partial = out.with_name(out.name + ".partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    except OSError as exc:
        raise OutputNotWritable(
            f"无法创建输出目录 {str(partial)!r}：{exc}",
            f"cannot create the output folder {str(partial)!r}: {exc}",
        ) from exc
    return partial


def _reduce(parts: list[PartitionTotals], key: str) -> pd.DataFrame:
    frames: list[pd.DataFrame] = [getattr(p, key) for p in parts]
    if key == "by_year":
        totals = pd.concat(frames).groupby("year", as_index=False)[list(BY_YEAR_COLUMNS)].sum()
        return pd.DataFrame(totals)
    name = "stratum" if key == "by_stratum" else "species_group"
    summed = pd.concat(frames).groupby(name, dropna=False).sum(numeric_only=True)
    return pd.DataFrame(summed.reset_index())


def run_ex_ante_dask(
    engine: Engine, selection: str, methodology: str, start_year: int, years: int, out: Path,
    planted_group: str = "chinese_fir", scheduler: str | None = None,
    partition_stands: int = DEFAULT_PARTITION_STANDS,
    progress: ProgressReporter | None = None,
) -> DistributedExAnte:  # fmt: skip
    """Ex-ante of the selected stands on dask (see the module's docstring for the partitions).

    At most ``2 × workers`` partitions are in flight at once: the driver reads the next
    partition from the database only when a worker has finished one. Per-stand rows in
    ``out/part-NNNNN.parquet`` (t CO2e; one row per stand and year); totals returned.
    """
    if partition_stands < 1:
        raise Invalid(
            f"每个分区的小班数须为正数（{partition_stands}）。",
            f"the stands per partition must be positive ({partition_stands}).",
        )
    record = catalogue.methodology(methodology)
    progress = progress or NullProgress()
    if record.needs_curves:
        with session_scope(engine) as session:
            curves = latest_growth_curves(session)
    else:
        curves = []
    count, partitions = _read_partitions(engine, selection, record.code.value, partition_stands)
    return run_partitions(
        partitions, count, record.code.value, curves, start_year, years, out, planted_group,
        scheduler, progress,
    )  # fmt: skip


def run_partitions(
    partitions: Iterable[pd.DataFrame], count: int, methodology: str,
    curves: list[GrowthCurve], start_year: int, years: int, out: Path,
    planted_group: str = "chinese_fir", scheduler: str | None = None,
    progress: ProgressReporter | None = None,
) -> DistributedExAnte:  # fmt: skip
    """The distributed part of :func:`run_ex_ante_dask`: each partition (a stands frame as
    :func:`registry.carbon_model.select_stands` gives, drawn from ``partitions`` only when a
    worker is free) projected on a worker. ``count``: the stands to expect (progress only)."""
    record = catalogue.methodology(methodology)
    progress = progress or NullProgress()
    client, cluster = _client(scheduler)
    partial: Path | None = None
    try:
        partial = _prepare_out(out)
        import distributed

        as_completed: Any = distributed.as_completed
        in_flight = max(2, 2 * len(client.scheduler_info()["workers"]))
        curves_future = client.scatter([curves], broadcast=True)[0]  # one object, every worker
        progress.stage(f"事前估算 ex-ante on dask ({count:,} stands)", total=count)
        parts: list[PartitionTotals] = []
        no_stands: MethodologyError | None = None
        pending = as_completed()
        submitted = 0
        stands_read: dict[Any, int] = {}
        for frame in partitions:
            read = len(frame)
            try:
                stands = record.computed(frame)
            except InputError as exc:  # this partition holds none of the stands computed
                no_stands = exc
                progress.advance(read)
                continue
            path = str(partial / f"part-{submitted:05d}.parquet")
            future = client.submit(
                partition_ex_ante, record.code.value, stands, curves_future, start_year, years,
                planted_group, path, pure=False,
            )  # fmt: skip
            stands_read[future.key] = read
            pending.add(future)
            submitted += 1
            while pending.count() >= in_flight:
                _collect(next(pending), parts, progress, stands_read)
        for future in pending:
            _collect(future, parts, progress, stands_read)
    except BaseException:
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    failed = next((p.error for p in parts if p.error), None)
    if failed or not parts:
        shutil.rmtree(partial, ignore_errors=True)
        if failed:
            raise InputError(*failed)
        assert no_stands is not None
        raise no_stands
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    unverified: dict[str, None] = {}
    effects: dict[str, float] = {}
    for p in parts:
        unverified.update(dict.fromkeys(p.unverified))
        for name, value in p.effects.items():
            effects[name] = effects.get(name, 0.0) + value
    return DistributedExAnte(
        record.code.value,
        sum(p.stands for p in parts),
        len(parts),
        _reduce(parts, "by_year"),
        _reduce(parts, "by_stratum"),
        _reduce(parts, "by_species_group"),
        out,
        effects,
        list(unverified),
    )


def _collect(
    future: Any, parts: list[PartitionTotals], progress: ProgressReporter, read: dict[Any, int]
) -> None:
    parts.append(future.result())
    progress.advance(read.pop(future.key))
    future.release()
