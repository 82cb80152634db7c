"""The system-call filter of the grading sandbox, built with libseccomp and handed to bubblewrap.

The list follows Docker's default seccomp profile: the calls it refuses to a container are refused to
a submission, with ``EPERM``. They fall in groups: the kernel keyring (``add_key``, ``keyctl``,
``request_key``: a key would outlive the sandbox, in the keyring of its uid), mounting and namespaces
(``mount``, ``unshare``, ``setns``, ``clone`` with a namespace flag, ``clone3``), tracing and reading
other processes (``ptrace``, ``process_vm_readv``, ``kcmp``, ``pidfd_getfd``), kernel interfaces that
have been the door of many exploits (``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring``),
modules, ``kexec``, reboot, swap, clocks, quotas, accounting, raw I/O ports, NUMA memory policy, file
handles and the kernel log. ``clone3`` fails with ``ENOSYS`` so that the C library falls back to
``clone``, whose flags a filter can read.

Memory that the sandbox's limits cannot count is refused too, unless a memory cgroup counts it
(``count_memory``): ``memfd_create``/``memfd_secret`` (a file in memory, never mapped, so not in the
address space), and System V shared memory (``shmget``: a segment outlives its detaching process).

The filter is built by libseccomp (through ``pyseccomp``, a ctypes binding of Debian's
``libseccomp2``), exported as a BPF program, and given to bubblewrap with ``--seccomp FD``; bubblewrap
installs it as the last step before starting the runner, so everything the student's code does runs
under it and no process can remove it.
"""

from __future__ import annotations

import errno
import functools
import tempfile

#: Refused with EPERM, as in Docker's default profile (x86-64 names; unknown names are an error).
DENIED = (
    # the kernel keyring
    "add_key", "keyctl", "request_key",
    # mounts, namespaces, root changes
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # kernel interfaces
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "fanotify_init", "lookup_dcookie", "syslog", "vhangup",
    # the machine
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "quotactl_fd", "nfsservctl", "sysfs", "_sysctl", "uselib", "ustat",
    "clock_settime", "clock_adjtime", "settimeofday", "iopl", "ioperm",
    "name_to_handle_at", "open_by_handle_at",
    # NUMA memory policy (Docker: only with CAP_SYS_NICE)
    "mbind", "set_mempolicy", "get_mempolicy", "move_pages", "migrate_pages",
)
#: Memory no limit counts unless a memory cgroup does.
UNCOUNTED_MEMORY = ("memfd_create", "memfd_secret", "shmget")
#: ``clone`` flags that create namespaces (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
#: NEWNET, NEWTIME).
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
                   0x00000080)


class SeccompUnavailable(RuntimeError):
    """libseccomp or its binding is missing; the message says what to install."""


#: What a warm start's zygote may still do (make a child's namespaces and file systems); its children
#: add the whole filter on top before any student code runs (see :mod:`autograder.zygote`).
ZYGOTE_ALLOWED = ("mount", "unshare")


@functools.lru_cache(maxsize=4)
def bpf(count_memory: bool, zygote: bool = False) -> bytes:
    """The compiled filter (a BPF program for ``bwrap --seccomp``); cached per process.

    ``zygote``: the filter of a warm start's zygote, which allows :data:`ZYGOTE_ALLOWED` and the
    kinds of memory of :data:`UNCOUNTED_MEMORY` (each child's own filter decides those).
    """
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as err:  # OSError: libseccomp.so.2 missing
        raise SeccompUnavailable(
            f"the sandbox's system-call filter needs libseccomp and its Python binding ({err}); install "
            f"them (Debian/Ubuntu: `apt-get install libseccomp2`; `pip install pyseccomp`, which "
            f"requirements.lock pins)") from None
    flt = sc.SyscallFilter(defaction=sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    denied = (*DENIED, *(() if count_memory or zygote else UNCOUNTED_MEMORY))
    for name in denied:
        if not (zygote and name in ZYGOTE_ALLOWED):
            flt.add_rule(deny, name)
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for flag in NAMESPACE_FLAGS:
        flt.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()
