// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Sentinel's agent probe: what each agent's processes do, seen from the kernel.
 *
 * Four tracepoint programs, all filtered in the kernel to the cgroups Sentinel registered in
 * `agent_cgroups` (cgroup v2 id -> agent slot); every other task on the host returns after one
 * array lookup (`watch_filter`), or, where its bucket is shared with a watched group, one hash
 * lookup more:
 *   - sched_process_exec   a program started (its path);
 *   - sched_process_exit   a process (thread-group leader) ended (its exit status);
 *   - sys_enter            files opened for writing (openat, openat2) and connections
 *                          tried (connect), and a mark (task-local storage) that the
 *                          syscall really entered;
 *   - sys_exit             bytes written (write-family syscalls), and refusals: a syscall
 *                          that exits without having entered was stopped by seccomp,
 *                          which runs before the sys_enter tracepoint and skips the call.
 * Details go to a ring buffer; per-agent totals to `agent_counters`.
 */
#include "probe_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PROBE_DATA_LEN 256
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)

/* Syscall numbers differ per architecture; the loader refuses other architectures. */
#if defined(__TARGET_ARCH_x86)
#define NR_WRITE 1
#define NR_PWRITE64 18
#define NR_WRITEV 20
#define NR_CONNECT 42
#define NR_OPENAT 257
#define NR_PWRITEV 296
#define NR_PWRITEV2 328
#define NR_OPENAT2 437
#elif defined(__TARGET_ARCH_arm64)
#define NR_WRITE 64
#define NR_PWRITE64 68
#define NR_WRITEV 66
#define NR_CONNECT 203
#define NR_OPENAT 56
#define NR_PWRITEV 70
#define NR_PWRITEV2 287
#define NR_OPENAT2 437
#else
#error "the agent probe knows the syscall numbers of x86_64 and arm64 only"
#endif

enum probe_kind {
    KIND_EXEC = 1,
    KIND_EXIT = 2,
    KIND_OPEN_WRITE = 3,
    KIND_CONNECT = 4,
    KIND_REFUSED = 5,
};

/* One ring-buffer record; sentinel/probes/records.py decodes this exact layout. */
struct probe_event {
    u64 ts_ns;
    u64 cgroup_id;
    u32 slot;
    u32 pid;
    u32 tid;
    u32 kind;
    s64 value;
    s64 extra;
    u8 data[PROBE_DATA_LEN];
};

/* Per-agent totals; sentinel/probes/records.py decodes this exact layout. */
struct agent_totals {
    u64 execs;
    u64 exits;
    u64 write_opens;
    u64 writes;
    u64 write_bytes;
    u64 connects;
    u64 refusals;
    u64 dropped;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, u64);
    __type(value, u32);
} agent_cgroups SEC(".maps");

/* A counting filter in front of `agent_cgroups`: entry `id % FILTER_BUCKETS` counts the
 * watched cgroups whose id falls there (userspace adds to it before a cgroup goes into
 * `agent_cgroups` and takes it back after it left, so it never says no for a watched one).
 * An array lookup by a bounded index is inlined by the verifier into an address computation,
 * where the hash lookup is a call that hashes the key: every syscall of every task on the
 * host pays this check, and all but the few whose bucket is shared return here. Measured
 * in a C getppid loop (min of interleaved runs): 467 ns a call with the hash lookup first,
 * 407 ns with this filter in front of it, 188 ns without programs. */
#define FILTER_BUCKETS 4096

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, FILTER_BUCKETS);
    __type(key, u32);
    __type(value, u32);
} watch_filter SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, u32);
    __type(value, struct agent_totals);
} agent_counters SEC(".maps");

/* A watched thread inside a syscall that passed seccomp: task-local storage, created for
 * watched threads only (at their first syscall) and freed with the thread. Reading and
 * writing it is a pointer walk, where the LRU hash map it replaced took a lock and a
 * list update on both sides of every syscall of a watched thread. */
struct syscall_mark {
    long nr;
    u32 inside;
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct syscall_mark);
} marks SEC(".maps");

/* The fallback when a thread's mark cannot be had (no memory, or task storage busy on this
 * CPU, which the kernel refuses rather than wait for): the old LRU hash, tid -> number, so
 * that such a thread's failing syscall is not taken for a refusal. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, u32);
    __type(value, long);
} entered SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

/* The current task's cgroup v2 id, what bpf_get_current_cgroup_id() returns (the id of
 * the default hierarchy's group of the task's css_set), read by walking the BTF-typed
 * pointers instead of calling the helper: the programs run under RCU, which keeps the
 * css_set alive, and a BTF load that faults reads 0 (no group is watched under id 0).
 * Measured in a C getppid loop, min of interleaved runs: two empty programs 341 ns a
 * call, the helper 382-410 ns, the walk 351 ns. */
static __always_inline u64 current_cgroup_id(void)
{
    struct task_struct *task = bpf_get_current_task_btf();
    return task->cgroups->dfl_cgrp->kn->id;
}

static __always_inline u32 *watched(u64 *cgroup_id)
{
    *cgroup_id = current_cgroup_id();
    u32 bucket = (u32)(*cgroup_id % FILTER_BUCKETS);
    u32 *count = bpf_map_lookup_elem(&watch_filter, &bucket);
    if (!count || !*count)
        return 0;
    return bpf_map_lookup_elem(&agent_cgroups, cgroup_id);
}

static __always_inline struct agent_totals *totals(u32 slot)
{
    struct agent_totals *found = bpf_map_lookup_elem(&agent_counters, &slot);
    if (found)
        return found;
    struct agent_totals zero = {};
    bpf_map_update_elem(&agent_counters, &slot, &zero, BPF_NOEXIST);
    return bpf_map_lookup_elem(&agent_counters, &slot);
}

static __always_inline struct probe_event *reserve(u64 cgroup_id, u32 slot, u32 kind,
                                                   struct agent_totals *sums)
{
    struct probe_event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    if (!event) {
        if (sums)
            __sync_fetch_and_add(&sums->dropped, 1);
        return 0;
    }
    u64 pid_tgid = bpf_get_current_pid_tgid();
    event->ts_ns = bpf_ktime_get_boot_ns();
    event->cgroup_id = cgroup_id;
    event->slot = slot;
    event->pid = pid_tgid >> 32;
    event->tid = (u32)pid_tgid;
    event->kind = kind;
    event->value = 0;
    event->extra = 0;
    event->data[0] = 0;
    return event;
}

/* Records are handed over without waking the reader: userspace consumes the ring on a timer
 * (`POLL_MS` in src/lib.rs) and whenever it drains. A wakeup per record put the reader to
 * sleep and woke it again for every program run and file opened (~400 times a second on
 * the main job, each one an inter-processor interrupt, on a virtual machine a trip through
 * the hypervisor); the reader is woken only when the ring fills past `WAKEUP_BYTES`, so a
 * burst cannot outrun it. */
#define WAKEUP_BYTES (512 * 1024)

static __always_inline void submit(struct probe_event *event)
{
    u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    bpf_ringbuf_submit(event, pending >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* BTF-typed raw tracepoints (tp_btf): attached by name, no tracefs needed, typed arguments. */

SEC("tp_btf/sched_process_exec")
int on_exec(u64 *ctx)
{
    struct linux_binprm *bprm = (struct linux_binprm *)ctx[2];
    u64 cgroup_id;
    u32 *slot = watched(&cgroup_id);
    if (!slot)
        return 0;
    struct agent_totals *sums = totals(*slot);
    if (sums)
        __sync_fetch_and_add(&sums->execs, 1);
    struct probe_event *event = reserve(cgroup_id, *slot, KIND_EXEC, sums);
    if (!event)
        return 0;
    bpf_probe_read_kernel_str(event->data, sizeof(event->data), BPF_CORE_READ(bprm, filename));
    submit(event);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int on_exit(u64 *ctx)
{
    u64 pid_tgid = bpf_get_current_pid_tgid();
    if ((u32)pid_tgid != (u32)(pid_tgid >> 32))
        return 0; /* a thread, not the process */
    u64 cgroup_id;
    u32 *slot = watched(&cgroup_id);
    if (!slot)
        return 0;
    struct agent_totals *sums = totals(*slot);
    if (sums)
        __sync_fetch_and_add(&sums->exits, 1);
    struct probe_event *event = reserve(cgroup_id, *slot, KIND_EXIT, sums);
    if (!event)
        return 0;
    struct task_struct *task = (struct task_struct *)ctx[0];
    event->value = BPF_CORE_READ(task, exit_code);
    bpf_get_current_comm(event->data, 16);
    submit(event);
    return 0;
}

SEC("tp_btf/sys_enter")
int on_sys_enter(u64 *ctx)
{
    u64 cgroup_id;
    u32 *slot = watched(&cgroup_id);
    if (!slot)
        return 0;
    long nr = (long)ctx[1];
    struct syscall_mark *mark = bpf_task_storage_get(&marks, bpf_get_current_task_btf(), 0,
                                                     BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (mark) {
        mark->nr = nr;
        mark->inside = 1;
    } else {
        u32 tid = (u32)bpf_get_current_pid_tgid();
        bpf_map_update_elem(&entered, &tid, &nr, BPF_ANY);
    }
    if (nr != NR_OPENAT && nr != NR_OPENAT2 && nr != NR_CONNECT)
        return 0;
    struct pt_regs *regs = (struct pt_regs *)ctx[0];
    unsigned long args[3] = {SYSCALL_ARG0(regs), SYSCALL_ARG1(regs), SYSCALL_ARG2(regs)};
    struct agent_totals *sums = totals(*slot);
    if (nr == NR_CONNECT) {
        if (sums)
            __sync_fetch_and_add(&sums->connects, 1);
        struct probe_event *event = reserve(cgroup_id, *slot, KIND_CONNECT, sums);
        if (!event)
            return 0;
        u32 length = args[2] > 128 ? 128 : (u32)args[2];
        event->value = (s64)args[0];
        event->extra = length;
        bpf_probe_read_user(event->data, length & 0xFF, (void *)args[1]);
        submit(event);
        return 0;
    }
    u64 flags = args[2];
    if (nr == NR_OPENAT2 && bpf_probe_read_user(&flags, sizeof(flags), (void *)args[2]) != 0)
        flags = 0;
    if (!(flags & WRITE_FLAGS))
        return 0;
    if (sums)
        __sync_fetch_and_add(&sums->write_opens, 1);
    struct probe_event *event = reserve(cgroup_id, *slot, KIND_OPEN_WRITE, sums);
    if (!event)
        return 0;
    event->value = (s64)flags;
    event->extra = (s64)(int)args[0];
    bpf_probe_read_user_str(event->data, sizeof(event->data), (void *)args[1]);
    submit(event);
    return 0;
}

SEC("tp_btf/sys_exit")
int on_sys_exit(u64 *ctx)
{
    u64 cgroup_id;
    u32 *slot = watched(&cgroup_id);
    if (!slot)
        return 0;
    struct pt_regs *regs = (struct pt_regs *)ctx[0];
    long nr = SYSCALL_NR(regs);
    long ret = (long)ctx[1];
    struct syscall_mark *mark = bpf_task_storage_get(&marks, bpf_get_current_task_btf(), 0, 0);
    int inside = 0;
    if (mark && mark->inside) {
        mark->inside = 0;
        inside = 1;
    } else {
        u32 tid = (u32)bpf_get_current_pid_tgid();
        if (bpf_map_lookup_elem(&entered, &tid)) {
            bpf_map_delete_elem(&entered, &tid);
            inside = 1;
        }
    }
    if (inside) {
        if (ret > 0 && (nr == NR_WRITE || nr == NR_PWRITE64 || nr == NR_WRITEV ||
                        nr == NR_PWRITEV || nr == NR_PWRITEV2)) {
            struct agent_totals *sums = totals(*slot);
            if (sums) {
                __sync_fetch_and_add(&sums->writes, 1);
                __sync_fetch_and_add(&sums->write_bytes, (u64)ret);
            }
        }
        return 0;
    }
    if (ret >= 0)
        return 0; /* joined the cgroup inside this syscall (a write to cgroup.procs) */
    struct agent_totals *sums = totals(*slot);
    if (sums)
        __sync_fetch_and_add(&sums->refusals, 1);
    struct probe_event *event = reserve(cgroup_id, *slot, KIND_REFUSED, sums);
    if (!event)
        return 0;
    event->value = nr;
    event->extra = -ret;
    submit(event);
    return 0;
}
