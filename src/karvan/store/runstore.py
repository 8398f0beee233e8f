"""A versioned store of runs: ``root/runs/<run_id>/`` folders and ``root/catalog.sqlite``.

How a save stays whole:

1. the tables and then the manifest are written into ``root/runs/.tmp-*`` (hidden, never listed);
2. the folder is renamed to ``root/runs/<run_id>`` (one ``rename``; if another process took the
   id meanwhile, the rename fails and a new id is drawn);
3. the catalog row is inserted in one transaction.

Only runs with a catalog row are listed or resolved by id, prefix or scenario name. A process
killed in step 1 leaves a hidden temporary folder, which a later open removes once it is older
than ``stale_after_s``, except staged runs whose process still holds their lock
(:func:`staging_lock`: ``karvan run -j N`` stages runs that wait for the ones before them to be
committed). Killed between 2 and 3, it leaves a whole run folder without a row; so does a lost
or emptied catalog. A later open lists such folders again from their manifests, once older than
``stale_after_s``, in the order of saving; one that is not a whole run is warned of and left
(so do not put folders into ``runs/`` by hand).
Ctrl-C (``KeyboardInterrupt``) anywhere removes what the save had written. A removal renames
the folder to a hidden ``.trash-*`` name first, then deletes the row and the folder (a folder
that could not be moved keeps its row, and a removed run is never found again).

These guarantees hold against a process that dies; against a power cut they hold for the
catalog (SQLite) but the files of the last run may not have reached the disk.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

try:
    import fcntl
except ImportError:  # not on Windows: staged runs are then judged by their age alone
    fcntl = None

from karvan._version import __version__
from karvan.errors import InputError, KarvanError, NotFoundError, format_ids
from karvan.io.atomic import atomic_folder
from karvan.io.run_folder import RunRecord, read_manifest, write_manifest, write_run_folder
from karvan.store import catalog

log = logging.getLogger(__name__)

#: a temporary or trash folder older than this (seconds since last change) is left over from a
#: process that died, and removed when the store is opened
STALE_AFTER_S = 3600.0
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
LOCK_PREFIX = ".lock-"
RUN_ID = re.compile(r"^\d{8}-\d{6}-[A-Za-z0-9_\-]+-[0-9a-f]{4}$")
_SLUG = re.compile(r"[^A-Za-z0-9_\-]+")


def new_run_id(scenario: str, created: datetime) -> str:
    """``YYYYMMDD-HHMMSS-<scenario>-<4 hex>``, the time in UTC.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> new_run_id("rasht astara", datetime(2026, 5, 1, 8, 30, tzinfo=timezone.utc))[:-4]
    '20260501-083000-rasht_astara-'
    """
    slug = _SLUG.sub("_", scenario).strip("_")[:40] or "run"
    return f"{created.astimezone(UTC):%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(2)}"


@dataclass(frozen=True, slots=True)
class StagedRun:
    """A run written whole into a hidden folder of a store's runs folder, not listed yet:
    :meth:`RunStore.commit` lists it."""

    path: Path
    manifest: dict


def stage_run(runs_dir: str | os.PathLike, tables: Mapping[str, pd.DataFrame],
              manifest: Mapping, *, tag: str = "") -> StagedRun:
    """Write a run's tables (Parquet and CSV) and manifest into a hidden temporary folder of
    ``runs_dir`` (a store's ``runs/``, created if needed), without touching the catalog: the
    costly half of :meth:`RunStore.save`, which worker processes can do side by side.

    A staged folder that is never committed is removed when the store is next opened after
    ``STALE_AFTER_S``, like any temporary folder.

    Parameters
    ----------
    tag
        Put in the folder's name (``.tmp-<tag>-*``), so that the process that hands out the
        work can find and remove what a worker it stopped had staged.

    Raises
    ------
    InputError
        A manifest without a scenario name, or a table name that cannot be a file name.
    OSError
        The folder could not be written (what was written is removed).
    """
    spec = manifest.get("scenario")
    if not isinstance(spec, Mapping) or not spec.get("name"):
        raise InputError("a run's manifest needs scenario = {'name': ...}; got "
                         f"{spec!r}.")
    created = datetime.now(UTC)
    man = {"karvan_version": __version__, **manifest, "status": manifest.get("status",
                                                                              "complete"),
           "created": created.isoformat(), "tables": sorted(tables)}
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{TMP_PREFIX}{tag}-" if tag else TMP_PREFIX
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=runs_dir))
    try:
        write_run_folder(tmp, tables, man)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return StagedRun(tmp, man)


@contextlib.contextmanager
def staging_lock(runs_dir: str | os.PathLike, tag: str):
    """Hold ``runs_dir/.lock-<tag>`` while runs staged with ``tag`` wait for their commit: a
    store opened meanwhile (:meth:`RunStore.repair`) leaves ``.tmp-<tag>-*`` folders alone
    however old they are, since the process that will commit them is alive. The file goes when
    the block ends; one left by a process that died is removed by a later repair."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"{LOCK_PREFIX}{tag}"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:  # a filesystem without locks: staged runs go by their age
                log.debug("%s: no lock (%s)", path, e)
        yield path
    finally:
        os.close(fd)  # before the unlink (Windows does not remove an open file)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _lock_held(runs_dir: Path, tag: str) -> bool:
    """Whether a live process holds ``runs_dir/.lock-<tag>`` (:func:`staging_lock`)."""
    path = runs_dir / f"{LOCK_PREFIX}{tag}"
    if fcntl is None or not tag:
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:  # no locks on this filesystem: judged by age, as before
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _tag_of(name: str) -> str:
    """The tag of a staged folder's name ``.tmp-<tag>-<random>`` ('' without one)."""
    rest = name[len(TMP_PREFIX):]
    return rest.split("-", 1)[0] if "-" in rest else ""


class RunStore:
    """Runs saved as versioned folders with an SQLite catalog.

    Parameters
    ----------
    root
        The store folder; ``root/runs/`` holds the runs, ``root/catalog.sqlite`` lists them.
        Other files and folders in ``root`` (such as plain ``results/<scenario>/`` copies) are
        left alone.
    create
        Create the store when ``root`` holds none; otherwise raise.
    stale_after_s
        Age after which left-over temporary folders of dead processes are removed on open.

    Raises
    ------
    InputError
        ``create=False`` and there is no store at ``root``.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = RunStore(tmp.name)
    >>> rid = store.save({"links": pd.DataFrame({"link_id": ["a"], "tonnes": [1.0]})},
    ...                  {"scenario": {"name": "toy", "title": "Toy", "year": 2030}})
    >>> store.resolve("toy").table("links")["tonnes"].tolist()
    [1.0]
    >>> list(store.list()["run_id"]) == [rid]
    True
    >>> tmp.cleanup()
    """

    def __init__(self, root: str | os.PathLike, *, create: bool = True,
                 stale_after_s: float = STALE_AFTER_S) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.catalog_path = self.root / "catalog.sqlite"
        # a catalog lost or left empty beside run folders: the store is there, its rows are
        # not (runs list said "holds no run store"), and they are listed again at once
        lost = (not self.catalog_path.is_file() or self.catalog_path.stat().st_size == 0) \
            and self.runs_dir.is_dir() and any(
                (p / "manifest.json").is_file() for p in self.runs_dir.iterdir()
                if not p.name.startswith("."))
        if not self.catalog_path.is_file() and not lost:
            if not create:
                raise InputError(f"{self.root} holds no run store (no catalog.sqlite); "
                                 f"`karvan run --store {self.root}` creates one.")
            if self.root.exists() and not self.root.is_dir():
                # mkdir said "Not a directory: <root>/runs (NotADirectoryError)"
                raise InputError(f"{self.root} is a file, not a folder: give a folder for the "
                                 "run store (it is created if missing).")
            if self.runs_dir.exists() and not self.runs_dir.is_dir():
                raise InputError(f"{self.runs_dir} is a file; the run store needs that name for "
                                 "its runs folder.")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        catalog.init(self.catalog_path)
        self.repair(stale_after_s=stale_after_s, relist_after_s=0.0 if lost else None)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # -- writing -------------------------------------------------------------------------------

    def save(self, tables: Mapping[str, pd.DataFrame], manifest: Mapping) -> str:
        """Save a run whole: its tables (Parquet and CSV) and manifest, then its catalog row.

        Parameters
        ----------
        tables
            Table name to DataFrame.
        manifest
            The run's manifest; needs ``scenario`` as a mapping with ``name`` (and usually
            ``title`` and ``year``), may hold ``summary``, ``status`` and anything JSON-able.
            ``run_id``, ``created``, ``status`` (default ``"complete"``) and
            ``karvan_version`` (default: this version) are added.

        Returns
        -------
        str
            The new run id.

        Raises
        ------
        InputError
            A manifest without a scenario name, or a table name that cannot be a file name.
        KarvanError
            No free run id after 100 tries.
        OSError
            The run folder could not be written or renamed (what was written is removed).
        """
        return self.commit(stage_run(self.runs_dir, tables, manifest))

    def commit(self, staged: StagedRun) -> str:
        """List a run that :func:`stage_run` wrote into this store's runs folder: draw its id,
        write its final manifest, rename its folder into place, add its catalog row.

        Runs staged by several processes at once are committed here one by one, in the order
        the caller chooses (``karvan run`` commits them in the order of its scenarios).

        Returns
        -------
        str
            The new run id.

        Raises
        ------
        InputError
            A staged folder outside this store's runs folder.
        KarvanError
            No free run id after 100 tries.
        OSError
            The run folder could not be renamed (the staged folder is removed).
        sqlite3.IntegrityError
            Its run id is in the catalog with another row (a run listed again from its
            manifest meanwhile is this run's own row, and passes).
        """
        tmp = Path(staged.path)
        if tmp.parent.resolve() != self.runs_dir.resolve():
            raise InputError(f"{tmp} was not staged in {self.runs_dir}; stage a run in the "
                             "runs folder of the store that commits it.")
        man = dict(staged.manifest)
        spec = man["scenario"]
        created = datetime.fromisoformat(man["created"])
        folder = None
        try:
            for _ in range(100):
                run_id = new_run_id(str(spec["name"]), created)
                man["run_id"] = run_id
                write_manifest(tmp, man)
                if (tmp / "run.gpkg").is_file():
                    # its layers were described while the run had no id yet (the staging
                    # folder's name stood in for it)
                    from karvan.io.gpkg_contents import describe_layers

                    try:
                        describe_layers(tmp / "run.gpkg", RunRecord(tmp, man, run_id))
                    except sqlite3.DatabaseError as e:  # not a GeoPackage: kept as it is
                        log.warning("%s: the layers' descriptions were not updated (%s)",
                                    self.runs_dir / run_id / "run.gpkg", e)
                # the folder's age is judged by its mtime (repair): a run staged long ago is
                # not left over once it is being committed
                os.utime(tmp)
                try:
                    os.rename(tmp, self.runs_dir / run_id)
                except OSError as e:  # the id is taken by a complete (non-empty) run folder
                    if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    continue
                folder = self.runs_dir / run_id
                break
            else:
                raise KarvanError(f"no free run id for {spec['name']!r} in {self.runs_dir} "
                                  "after 100 tries.")
            try:
                catalog.insert(self.catalog_path, _row(run_id, man))
            except sqlite3.IntegrityError:
                # listed meanwhile from its manifest by a store opened on a lost catalog: the
                # same row, the run is committed
                if not catalog.select(self.catalog_path, run_id=run_id):
                    raise
        except BaseException:
            shutil.rmtree(folder if folder is not None else tmp, ignore_errors=True)
            raise
        log.info("saved run %s in %s", run_id, self.root)
        return run_id

    def remove(self, run_id: str) -> None:
        """Remove a run: its catalog row, then its folder.

        Raises
        ------
        NotFoundError
            No run has this id (prefixes and scenario names are not accepted here: resolve
            them first).
        """
        if not catalog.select(self.catalog_path, run_id=run_id):
            raise NotFoundError(f"no run {run_id!r} in {self.root}; `karvan runs list --store "
                                f"{self.root}` shows the stored runs.")
        # the folder is moved aside first: one that cannot be moved keeps its row (raised),
        # and one without a row would be listed again by the next open
        trash = self.runs_dir / f"{TRASH_PREFIX}{run_id}-{secrets.token_hex(4)}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.runs_dir / run_id, trash)
        catalog.delete(self.catalog_path, [run_id])
        shutil.rmtree(trash, ignore_errors=True)
        log.info("removed run %s from %s", run_id, self.root)

    def copy_run(self, ref: str | os.PathLike, target: str | os.PathLike) -> Path:
        """Copy a run's folder to ``target`` (replacing it whole, never half), e.g. the plain
        ``results/<scenario>/`` folder that people open.

        Raises
        ------
        InputError
            ``ref`` names no run, or ``target`` lies inside the store's runs folder.
        KarvanError
            The copy failed (a full disk, say): the message says that the run is stored and
            ``target`` holds what it held before.
        """
        rec = self.resolve(ref)
        target = Path(target)
        if target.resolve() == self.runs_dir.resolve() or self.runs_dir.resolve() in (
                target.resolve().parents):
            raise InputError(f"{target} is inside the run store's {self.runs_dir}; copy the run "
                             "elsewhere.")
        try:
            with atomic_folder(target) as tmp:
                for p in sorted(rec.path.iterdir()):
                    if p.is_file():
                        shutil.copy2(p, tmp / p.name)
        except OSError as e:
            what = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
            stored = rec.run_id and rec.path.parent.resolve() == self.runs_dir.resolve()
            raise KarvanError(
                f"run {rec.label} is {'stored' if stored else 'saved'} in {rec.path}, but "
                f"copying it to {target} failed ({what}); {target} holds what it held before. "
                "Free some space or fix the permissions there"
                + (f"; `karvan runs show {rec.label} --store {self.root}` shows the run."
                   if stored else ".")) from e
        return target

    def repair(self, *, stale_after_s: float = STALE_AFTER_S,
               relist_after_s: float | None = None) -> dict[str, int]:
        """Remove what dead processes left, once older than ``stale_after_s``: temporary and
        trash folders, and catalog rows whose folder is gone; list again the whole run folders
        that no catalog row lists (a save killed between its rename and its catalog row, or a
        catalog lost or emptied), from their manifests, once older than ``relist_after_s``
        (default ``stale_after_s``; 0 where the store is opened on a lost catalog); warn of the
        others and leave them. The counts of each. Runs on every open.

        A run folder is never deleted here: a folder gets its run id's name only once its
        tables and manifest are written, so one without a row holds a whole run."""
        now = time.time()
        rows = catalog.select(self.catalog_path)
        listed = {Path(r["path"]).name for r in rows}
        stale, orphans = 0, []
        for p in self.runs_dir.iterdir():
            if p.name.startswith(LOCK_PREFIX):
                # a lock its process did not remove (it died): no one holds it
                try:
                    old = now - p.stat().st_mtime >= stale_after_s
                except FileNotFoundError:
                    continue
                if old and not _lock_held(self.runs_dir, p.name[len(LOCK_PREFIX):]):
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                continue
            temporary = p.name.startswith((TMP_PREFIX, TRASH_PREFIX))
            if not temporary and (p.name in listed or not p.is_dir()):
                continue
            try:
                age = now - p.stat().st_mtime  # a folder's own mtime: its last file written
            except FileNotFoundError:
                continue
            limit = stale_after_s if temporary or relist_after_s is None else relist_after_s
            if age < limit:
                continue  # perhaps another process is saving it right now
            if p.name.startswith(TMP_PREFIX) and _lock_held(self.runs_dir, _tag_of(p.name)):
                continue  # staged, waiting for its commit by a live process
            if temporary:
                shutil.rmtree(p, ignore_errors=True)
                stale += 1
            else:
                orphans.append(p.name)
        relisted, damaged = self._relist(orphans) if orphans else ([], {})
        gone = [r["run_id"] for r in rows if not (self.root / r["path"]).is_dir()]
        if gone:
            log.warning("%s: %d catalog rows name missing run folders (%s); removing the rows",
                        self.root, len(gone), format_ids(gone))
            catalog.delete(self.catalog_path, gone)
        if stale:
            log.info("%s: removed %d left-over temporary folders", self.root, stale)
        return {"temporary_folders": stale, "relisted_folders": len(relisted),
                "damaged_folders": len(damaged), "missing_folders": len(gone)}

    def _relist(self, names: list[str]) -> tuple[list[str], dict[str, str]]:
        """Add catalog rows for the whole run folders ``names`` (oldest first, as they were
        committed), from their manifests; the others, with what is wrong, are warned of and
        left as they are."""
        # read again: a row committed meanwhile keeps its folder as it is
        listed = {Path(r["path"]).name for r in catalog.select(self.catalog_path)}
        whole, damaged = [], {}
        for name in names:
            if name in listed:
                continue
            folder = self.runs_dir / name
            try:
                man = read_manifest(folder)
            except InputError as e:
                damaged[name] = str(e)
                continue
            why, row = _catalog_row(name, man)
            if why is not None:
                damaged[name] = why
                continue
            missing = [t for t in man.get("tables") or ()
                       if not (folder / f"{t}.parquet").is_file()]
            if man.get("run_id") != name:
                damaged[name] = f"its manifest names run {man.get('run_id')!r}"
            elif missing:
                damaged[name] = f"tables missing: {', '.join(missing)}"
            else:
                whole.append(row)
        catalog.insert_in_order(self.catalog_path, whole)
        if whole:
            log.warning("%s: listed again %d whole run folders that no catalog row listed (%s)",
                        self.root, len(whole), format_ids([r["run_id"] for r in whole]))
        for name, why in damaged.items():
            log.warning("%s: %s has no catalog row and is not a whole run (%s); left as it "
                        "is: move it out of the store, or remove it", self.root,
                        self.runs_dir / name, why)
        return [r["run_id"] for r in whole], damaged

    # -- reading -------------------------------------------------------------------------------

    def list(self, *, scenario: str | None = None) -> pd.DataFrame:
        """The stored runs in the order they were committed, the newest last (a batch's in the
        order of its scenarios: their ``created`` times need not rise): ``run_id, scenario,
        title, year, created, karvan_version, status, summary`` (a dict) and ``path``
        (absolute). Rows whose folder is missing are left out."""
        rows = [r for r in catalog.select(self.catalog_path, scenario=scenario)
                if (self.root / r["path"]).is_dir()]
        df = pd.DataFrame(rows, columns=list(catalog.COLUMNS))
        df["path"] = [str((self.root / p).resolve()) for p in df["path"]]
        df["year"] = df["year"].astype("Int64")
        return df

    def get(self, run_id: str) -> RunRecord:
        """The run with this exact id.

        Raises
        ------
        NotFoundError
            No such run, or its folder is gone.
        """
        rows = catalog.select(self.catalog_path, run_id=run_id)
        if not rows:
            raise NotFoundError(f"no run {run_id!r} in {self.root}; `karvan runs list --store "
                                f"{self.root}` shows the stored runs.")
        return self._record(rows[0])

    def _record(self, row: dict) -> RunRecord:
        folder = self.root / row["path"]
        if not folder.is_dir():
            catalog.delete(self.catalog_path, [row["run_id"]])
            raise NotFoundError(f"run {row['run_id']}: its folder {folder} is gone; the catalog "
                             "row was removed.")
        return RunRecord(folder, read_manifest(folder), row["run_id"])

    def match(self, ref: str) -> str:
        """The run id that ``ref`` names exactly or as a unique prefix.

        Raises
        ------
        NotFoundError
            No run id starts with ``ref``.
        InputError
            Several do.
        """
        ref = str(ref)
        if catalog.select(self.catalog_path, run_id=ref):
            return ref
        rows = catalog.select(self.catalog_path, prefix=ref) if ref else []
        if len(rows) == 1:
            return rows[0]["run_id"]
        if rows:
            ids = [r["run_id"] for r in rows]
            raise InputError(f"{ref!r} is the start of {len(ids)} run ids ({format_ids(ids)}); "
                             "give more of the id.")
        raise NotFoundError(f"no run id in {self.root} starts with {ref!r}; `karvan runs list "
                            f"--store {self.root}` shows the stored runs.")

    def resolve(self, ref: str | os.PathLike | RunRecord) -> RunRecord:
        """The run that ``ref`` names: a run id, a scenario name (its latest run), a unique
        prefix of a run id, or a path to a run folder (in this store or not).

        A ``ref`` with a path separator, or given as a path object, is read as a folder.

        Raises
        ------
        NotFoundError
            ``ref`` names no run, or is a folder without a manifest.
        InputError
            ``ref`` names several runs (an ambiguous prefix).
        """
        if isinstance(ref, RunRecord):
            return ref
        s = os.fspath(ref)
        if isinstance(ref, os.PathLike) or "/" in s or os.sep in s:
            return RunRecord.from_folder(s)
        rows = catalog.select(self.catalog_path, run_id=s)
        if not rows:
            rows = catalog.select(self.catalog_path, scenario=s)[-1:]
        if rows:
            return self._record(rows[0])
        try:
            return self.get(self.match(s))
        except InputError:
            if Path(s).is_dir():
                return RunRecord.from_folder(s)
            if not catalog.select(self.catalog_path, prefix=s):
                import difflib

                names = sorted({r["scenario"] for r in catalog.select(self.catalog_path)})
                near = difflib.get_close_matches(s, names, n=1, cutoff=0.6)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise NotFoundError(
                    f"{s!r} names no run in {self.root}{hint}: not a run id, a unique start of "
                    "one, a scenario name or a results folder; `karvan runs list --store "
                    f"{self.root}` shows the stored runs.") from None
            raise


def _catalog_row(name: str, man: object) -> tuple[str | None, dict]:
    """The catalog row of the run folder ``name`` from its manifest, or why it cannot be one
    (a manifest that is not a run's: a list, a year that is not a whole number, no date)."""
    if not isinstance(man, dict):
        return f"its manifest is a {type(man).__name__}, not a run's", {}
    spec = man.get("scenario")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return "its manifest names no scenario", {}
    year = spec.get("year")
    if year is not None and not (isinstance(year, int) and not isinstance(year, bool)):
        return f"its scenario's year {year!r} is not a whole number", {}
    for key in ("created", "karvan_version", "status"):
        if not isinstance(man.get(key), str):
            return f"its manifest has no {key}", {}
    try:
        datetime.fromisoformat(man["created"])
    except ValueError:
        return f"its manifest's created {man['created']!r} is not a date", {}
    if not isinstance(man.get("summary") or {}, dict):
        man = {**man, "summary": {}}
    return None, _row(name, man)


def _row(run_id: str, man: dict) -> dict:
    """The catalog row of run ``run_id`` from its manifest (as a commit writes it, and as a
    folder found again is listed)."""
    spec = man["scenario"]
    return {"run_id": run_id, "scenario": str(spec["name"]),
            "title": str(spec.get("title") or ""), "year": spec.get("year"),
            "created": man["created"], "karvan_version": str(man["karvan_version"]),
            "status": str(man["status"]), "summary": man.get("summary") or {},
            "path": f"runs/{run_id}"}


def resolve_run(ref: str | os.PathLike | RunRecord, store: RunStore | str | os.PathLike | None
                = None) -> RunRecord:
    """The run ``ref`` names: a :class:`RunRecord` as itself, a run folder (with
    ``manifest.json``) as itself, anything else (a run id, its unique start, a scenario name for
    its latest run) looked up in ``store``.

    This is how every command and the dashboard find a run.

    Parameters
    ----------
    ref
        The run.
    store
        A run store (or its folder) to look names up in; a folder without a store is no error
        while ``ref`` is a run folder.

    Returns
    -------
    RunRecord
        The run.

    Raises
    ------
    InputError
        A folder without a manifest, or a name the store does not know (or no store).
    """
    if isinstance(ref, RunRecord):
        return ref
    p = Path(ref)
    if p.is_dir() and (p / "manifest.json").is_file():
        return RunRecord.from_folder(p)
    if store is None or p.exists() or isinstance(ref, os.PathLike) or "/" in str(ref) \
            or os.sep in str(ref):
        return RunRecord.from_folder(p)  # raises: not a run folder
    if not isinstance(store, RunStore):
        if not (Path(store) / "catalog.sqlite").is_file():
            raise InputError(f"{str(ref)!r} is not a run folder, and {store} holds no run "
                             "store to look it up in (no catalog.sqlite); give a folder, or the "
                             "store (--store, store=).")
        store = RunStore(store, create=False)
    return store.resolve(str(ref))
