"""The order in which the layers are applied, and what happens when one is missing.

The supervisor's warm path is: zygote calls :func:`harden_base` once; each forked run child calls
:func:`harden_run` with its own plan. The cold path is :func:`harden_process` (both at once).
A spare run child may do the run-independent part of :func:`harden_run` ahead, while it waits
for its run (:func:`prepare_run`). Every function returns the :class:`~sandbox.spec.Enforcement`
the kernel actually holds. A layer
the kernel cannot enforce is noted and skipped, unless the plan *requires* it: then
:class:`~host.errors.HardeningError` is raised and the caller must not run the module.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, overload

from host.errors import HardeningError
from sandbox.harden import landlock, privileges, seccomp
from sandbox.harden.descriptors import close_inherited
from sandbox.harden.rlimits import apply_rlimits, current_rlimits
from sandbox.harden.runtime_paths import runtime_read_paths
from sandbox.harden.shapes import EnforcementFields, PlanFields
from sandbox.kinds import Layer

if TYPE_CHECKING:
    from sandbox.spec import Enforcement

E = TypeVar("E", bound=EnforcementFields)

# The first Landlock ABI (and Linux release) that provides each layer, for error hints.
_SINCE: dict[Layer, str] = {
    "landlock_fs": "Landlock ABI 1 (Linux 5.13)",
    "landlock_net": "Landlock ABI 4 (Linux 6.7)",
    "landlock_scope": "Landlock ABI 6 (Linux 6.12)",
    "seccomp": "seccomp filter mode (CONFIG_SECCOMP_FILTER)",
    "no_new_privs": "Linux 3.5",
    "caps_dropped": "capability support (CONFIG_SECURITY)",
}


_NEEDS_NNP = "call harden_base first: it sets no_new_privs"


def _degrade(
    require: Set[Layer],
    enforcement: EnforcementFields,
    layer: Layer,
    reason: str,
    hint: str | None = None,
) -> None:
    """Refuse when ``layer`` is required, otherwise record why it is missing (once)."""
    if layer in require:
        raise HardeningError(
            f"the run requires the {layer} layer, which cannot be enforced: {reason}",
            hint=hint
            or f"it needs {_SINCE[layer]}; upgrade the kernel or drop {layer} from require",
        )
    note = f"{layer}: {reason}"
    if note not in enforcement.notes:
        enforcement.notes.append(note)


def copy_report(enforcement: E) -> E:
    """An independent copy of an enforcement report (each layer returns an updated copy).

    Every field holds ints and strings, so copying the containers is a deep copy; pydantic's
    generic deep copy takes ~0.25 ms in a freshly forked run child (it touches, and so copies,
    many shared pages). A warm spare calls this once ahead of its run for the same reason.
    """
    result = copy.copy(enforcement)
    result.landlock_rules = list(enforcement.landlock_rules)
    result.seccomp_denied = list(enforcement.seccomp_denied)
    result.rlimits = dict(enforcement.rlimits)
    result.notes = list(enforcement.notes)
    return result


def _pydantic_enforcement() -> Enforcement:
    # Imported here: the cold child passes its own record type and never loads pydantic.
    from sandbox.spec import Enforcement

    return Enforcement()


def _check_kernel(plan: PlanFields, scratch: EnforcementFields) -> None:
    """Refuse a plan that requires a layer this kernel lacks before anything is changed."""
    if not plan.require:
        return
    abi = landlock.abi_version()
    why = f"Landlock ABI {abi} on this kernel" if abi else "Landlock is not enabled in this kernel"
    if not abi:
        _degrade(plan.require, scratch, "landlock_fs", why)
    if not landlock.net_rights(abi):
        _degrade(plan.require, scratch, "landlock_net", f"{why}: TCP bind/connect stay open")
    if not landlock.scopes(abi):
        _degrade(
            plan.require, scratch, "landlock_scope", f"{why}: no abstract-socket/signal scopes"
        )
    if not seccomp.available():
        _degrade(plan.require, scratch, "seccomp", "the kernel has no seccomp filter mode")


def _single_threaded() -> None:
    # Landlock confines only the calling thread (and what it starts later): a thread that already
    # runs would stay free, so refuse rather than report a sandbox that is not there.
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return  # no /proc: nothing to check with; harden_base runs before threads by contract
    if threads != 1:
        raise HardeningError(
            f"hardening must run before any other thread starts, but {threads} threads run",
            hint="harden first, then create the wasmtime engine and its timer thread",
        )


def _check_grants(plan: PlanFields) -> None:
    for path in (*plan.ro_paths, *plan.rw_paths):
        if not path.exists():
            raise HardeningError(
                f"granted path {path} does not exist",
                hint="create the directory before the run or remove it from the grant",
            )


@overload
def harden_base(plan: PlanFields, *, base_filter: seccomp.Program | None = None) -> Enforcement: ...
@overload
def harden_base(
    plan: PlanFields, new: Callable[[], E], *, base_filter: seccomp.Program | None = None
) -> E: ...
def harden_base(
    plan: PlanFields,
    new: Callable[[], EnforcementFields] | None = None,
    *,
    base_filter: seccomp.Program | None = None,
) -> object:
    """Every layer but the filesystem one, before any untrusted byte and any thread.

    In order: close inherited descriptors (all but 0-2 and ``plan.keep_fds``: a leaked descriptor
    is authority no later layer takes back); SIGKILL on parent death (an orphan must not outlive
    its supervisor); rlimits, and not dumpable (no core file, not even through a core_pattern
    pipe); no_new_privs (needed by Landlock and seccomp); locked securebits,
    then drop every capability (bounding, ambient, inheritable, permitted, effective); Landlock
    TCP bind/connect rules and scopes (abstract unix sockets, signals) at the best ABI; last the
    base seccomp filter, last because it refuses calls the earlier steps need (prctl stays).
    Fork stays allowed: the zygote forks; :func:`harden_run` forbids it in the run child.

    Returns a :class:`sandbox.spec.Enforcement`, or what ``new()`` makes (the cold child's
    :class:`sandbox.harden.shapes.PlainEnforcement`). ``base_filter``: the base seccomp program
    compiled by the supervisor (None: compile it here, which imports pyseccomp).
    """
    make = new or _pydantic_enforcement
    _single_threaded()
    _check_kernel(plan, make())
    enforcement = make()
    close_inherited(plan.keep_fds)
    privileges.set_parent_death_signal()
    enforcement.rlimits, notes = apply_rlimits(plan.rlimits)
    enforcement.notes += notes
    if not privileges.set_not_dumpable():
        enforcement.notes.append("dumpable: the kernel kept the process dumpable")

    try:
        enforcement.no_new_privs = privileges.set_no_new_privs()
    except OSError as exc:
        _degrade(plan.require, enforcement, "no_new_privs", f"prctl refused it ({exc.strerror})")

    if not privileges.lock_securebits():
        enforcement.notes.append("securebits: not locked (no CAP_SETPCAP to begin with)")
    enforcement.notes += privileges.drop_capabilities()
    enforcement.capabilities_dropped = privileges.capabilities_dropped()
    if not enforcement.capabilities_dropped:
        _degrade(plan.require, enforcement, "caps_dropped", "a capability set is still not empty")

    _landlock_net_and_scopes(plan, enforcement)

    if not seccomp.available():
        _degrade(plan.require, enforcement, "seccomp", "the kernel has no seccomp filter mode")
    elif not enforcement.no_new_privs:
        _degrade(plan.require, enforcement, "seccomp", "a filter needs no_new_privs", _NEEDS_NNP)
    else:
        enforcement.seccomp_denied = (
            seccomp.load_program(base_filter) if base_filter else seccomp.install_base_filter()
        )
        enforcement.seccomp = True
    return enforcement


def _landlock_net_and_scopes(plan: PlanFields, enforcement: EnforcementFields) -> None:
    abi = landlock.abi_version()
    enforcement.landlock_abi = abi or None
    net, scoped = landlock.net_rights(abi), landlock.scopes(abi)
    why = f"Landlock ABI {abi} on this kernel" if abi else "Landlock is not enabled in this kernel"
    if not net:
        _degrade(plan.require, enforcement, "landlock_net", f"{why}: TCP bind/connect stay open")
    if not scoped:
        _degrade(
            plan.require, enforcement, "landlock_scope", f"{why}: no abstract-socket/signal scopes"
        )
    if not abi:
        _degrade(plan.require, enforcement, "landlock_fs", why)
    if not (net or scoped):
        return
    if not enforcement.no_new_privs:
        for layer in ("landlock_net", "landlock_scope"):
            _degrade(plan.require, enforcement, layer, "Landlock needs no_new_privs", _NEEDS_NNP)
        return
    # REFER (reparenting by rename or link) is denied by every Landlock layer, even one that
    # handles no other filesystem right. Granting it beneath "/" here leaves the decision to the
    # run's filesystem layer, which allows it only within read-write grants.
    refer = landlock.FS_REFER if abi >= 2 else 0
    ruleset = landlock.Ruleset(handled_fs=refer, handled_net=net, scoped=scoped)
    try:
        if refer:
            ruleset.allow_path(Path("/"), refer)
    except BaseException:
        ruleset.close()
        raise
    ruleset.restrict_self()
    enforcement.landlock_rules += (["net"] if net else []) + (["scope"] if scoped else [])


@dataclass
class RunPreparation:
    """The run-independent part of :func:`harden_run`, done ahead in the process it confines.

    ``fs_ruleset``: this process's own filesystem ruleset, already holding the runtime's read
    rules (:func:`runtime_read_paths`, whose ``/proc/<pid>`` rule names this process), or None
    when Landlock is unavailable. ``run_loader``: the run seccomp filter ready to load, or None
    to compile it at run time. Use it once; :func:`harden_run` refuses one made in another
    process.
    """

    pid: int
    abi: int
    can_filter: bool
    fs_ruleset: landlock.Ruleset | None = None
    run_loader: seccomp.Loader | None = field(default=None, repr=False)

    def close(self) -> None:
        """Release the ruleset descriptor without enforcing it (idempotent)."""
        if self.fs_ruleset is not None:
            self.fs_ruleset.close()


def prepare_run(run_filter: seccomp.Program | None = None) -> RunPreparation:
    """Do what :func:`harden_run` would do for any run, before the run is known.

    Call it in the process that will run (a ruleset created in a zygote would be shared by all
    its children, so grant rules added by one run would leak into the next), single-threaded,
    before reading anything from the supervisor. ``run_filter``: the run seccomp program the
    supervisor compiled (:class:`sandbox.harden.seccomp.FilterSet`), None to compile it here.
    """
    abi = landlock.abi_version()
    prepared = RunPreparation(pid=os.getpid(), abi=abi, can_filter=seccomp.available())
    if run_filter is not None:
        prepared.run_loader = seccomp.Loader(run_filter)
    if abi:
        prepared.fs_ruleset = _fs_ruleset(abi)
    current_rlimits()  # the read half of apply_rlimits: its pages faulted in ahead of the run
    return prepared


def _fs_ruleset(abi: int) -> landlock.Ruleset:
    """A new filesystem ruleset for ``abi`` that already lets the runtime read its own files."""
    # Scopes are relative to the layer that declares them: a run child whose only scoped layer
    # is its zygote's could still signal the zygote (same domain). Scoping this layer too makes
    # the run child's own domain the boundary.
    ruleset = landlock.Ruleset(handled_fs=landlock.fs_rights(abi), scoped=landlock.scopes(abi))
    try:
        ruleset.allow_paths(runtime_read_paths(), landlock.FS_READ)
    except BaseException:
        ruleset.close()
        raise
    return ruleset


def restrict_filesystem(
    plan: PlanFields, enforcement: E, prepared: RunPreparation | None = None
) -> E:
    """The filesystem Landlock layer: read ``plan.ro_paths`` and :func:`runtime_read_paths`,
    read and write ``plan.rw_paths``, nothing else (no execute anywhere; no create, remove,
    rename, truncate or device ioctl outside ``rw_paths``). Returns an updated copy.

    The same layer repeats the scopes (ABI >= 6), so that signals and abstract unix sockets are
    confined to *this* process's domain, not to a zygote's it was forked from.

    Call it in the process it confines (``/proc/self`` binds to that process), single-threaded,
    after :func:`harden_base` (Landlock layers stack). Raises HardeningError when a granted path
    does not exist, since a grant that silently vanishes is a grant nobody can audit.
    ``prepared``: from :func:`prepare_run` in this process; its ruleset is used (and consumed).
    """
    ruleset = prepared.fs_ruleset if prepared is not None else None
    if prepared is not None:
        prepared.fs_ruleset = None  # consumed here, whatever happens next
    try:
        _single_threaded()
        _check_grants(plan)
        result = copy_report(enforcement)
        abi = prepared.abi if prepared is not None else landlock.abi_version()
        if not abi:
            _degrade(plan.require, result, "landlock_fs", "Landlock is not enabled in this kernel")
            return result
        if not privileges.no_new_privs():
            _degrade(plan.require, result, "landlock_fs", "Landlock needs no_new_privs", _NEEDS_NNP)
            return result
        result.landlock_abi = abi
        ruleset = ruleset or _fs_ruleset(abi)
        ruleset.allow_paths(plan.ro_paths, landlock.FS_READ)
        ruleset.allow_paths(plan.rw_paths, landlock.FS_READ_WRITE)
        ruleset.restrict_self()  # closes the ruleset too
    finally:
        if ruleset is not None:
            ruleset.close()  # idempotent; releases it on every early return or error
    result.landlock_rules.insert(0, "fs")
    if abi < 3:
        result.notes.append(f"landlock_fs: ABI {abi} cannot refuse truncate outside rw grants")
    if abi < 5:
        result.notes.append(f"landlock_fs: ABI {abi} cannot refuse device ioctls")
    return result


def harden_run(
    plan: PlanFields,
    enforcement: E,
    *,
    expected_parent: int | None = None,
    prepared: RunPreparation | None = None,
) -> E:
    """The per-run layers, in a child forked from a :func:`harden_base` process (the zygote).

    Re-arms the parent-death signal (fork clears it; with ``expected_parent``, a child whose
    parent already died kills itself), tightens the rlimits to this run's plan (they can only go
    down now), applies :func:`restrict_filesystem`, then loads the run seccomp filter: the run
    child may start threads but never another process, and cannot disarm its parent-death
    signal. ``prepared``: from :func:`prepare_run` in this very process (the same layers result,
    the run-independent work already done).
    """
    if prepared is not None and prepared.pid != os.getpid():
        prepared.close()
        raise HardeningError(
            "a run preparation was made in another process",
            hint="call prepare_run in the run child itself, after the fork",
        )
    privileges.set_parent_death_signal(expected_parent)
    # read from /proc before the filesystem closes
    can_filter = prepared.can_filter if prepared is not None else seccomp.available()
    result = copy_report(enforcement)
    result.rlimits, notes = apply_rlimits(plan.rlimits)
    result.notes += notes
    result = restrict_filesystem(plan, result, prepared)
    if not can_filter:
        _degrade(plan.require, result, "seccomp", "the kernel has no seccomp filter mode")
    elif not privileges.no_new_privs():
        _degrade(plan.require, result, "seccomp", "a filter needs no_new_privs", _NEEDS_NNP)
    else:
        load = prepared.run_loader if prepared is not None else None
        load = load or seccomp.Loader(seccomp.compile_run_filter())
        result.seccomp_denied += load()
        result.seccomp = True
    return result


@dataclass(frozen=True)
class RunLayers:
    """What the run layers of a warm run child will hold, worked out once in the zygote.

    The native run core (sandbox/native/confine.c) applies the layers in each child; this is the
    report it sends as Ready (``report``, without the run's rlimits, which it adds), and the
    layers it cannot apply here with the sentence that refuses a run requiring one
    (``degraded``). Same outcome as :func:`harden_run` on the same machine.
    """

    report: EnforcementFields
    degraded: tuple[tuple[Layer, str], ...]


def run_layers(
    base: E, *, abi: int, can_filter: bool, run_filter: seccomp.Program | None
) -> RunLayers:
    """The :class:`RunLayers` of a child forked from a zygote hardened as ``base``."""
    report = copy_report(base)
    degraded: list[tuple[Layer, str]] = []

    def degrade(layer: Layer, reason: str, hint: str | None = None) -> None:
        try:
            _degrade({layer}, report, layer, reason, hint)
        except HardeningError as exc:
            degraded.append((layer, str(exc)))
        _degrade(set(), report, layer, reason, hint)  # the note

    nnp = privileges.no_new_privs()
    if not abi:
        degrade("landlock_fs", "Landlock is not enabled in this kernel")
    elif not nnp:
        degrade("landlock_fs", "Landlock needs no_new_privs", _NEEDS_NNP)
    else:
        report.landlock_abi = abi
        report.landlock_rules.insert(0, "fs")
        if abi < 3:
            report.notes.append(f"landlock_fs: ABI {abi} cannot refuse truncate outside rw grants")
        if abi < 5:
            report.notes.append(f"landlock_fs: ABI {abi} cannot refuse device ioctls")
    if not can_filter or run_filter is None:
        degrade("seccomp", "the kernel has no seccomp filter mode")
    elif not nnp:
        degrade("seccomp", "a filter needs no_new_privs", _NEEDS_NNP)
    else:
        report.seccomp_denied += run_filter.denied
        report.seccomp = True
    return RunLayers(report, tuple(degraded))


@overload
def harden_process(
    plan: PlanFields, *, filters: seccomp.FilterSet | None = None
) -> Enforcement: ...
@overload
def harden_process(
    plan: PlanFields, new: Callable[[], E], *, filters: seccomp.FilterSet | None = None
) -> E: ...
def harden_process(
    plan: PlanFields,
    new: Callable[[], EnforcementFields] | None = None,
    *,
    filters: seccomp.FilterSet | None = None,
) -> object:
    """The cold path: :func:`harden_base` then :func:`harden_run` in the same process.

    Returns a :class:`sandbox.spec.Enforcement`, or what ``new()`` makes. ``filters``: the
    seccomp programs compiled by the supervisor (None: compile them here, importing pyseccomp).
    """
    base = harden_base(
        plan, new or _pydantic_enforcement, base_filter=filters.base if filters else None
    )
    if filters is None:
        return harden_run(plan, base)
    return harden_run(plan, base, prepared=prepare_run(filters.run))
