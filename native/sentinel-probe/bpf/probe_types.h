/* The few kernel types the agent probe reads, declared for CO-RE.
 *
 * No kernel headers exist on the hosts Sentinel targets, and a full vmlinux.h generated from
 * one build host would pin that host's layout. These declarations name only the fields the
 * programs read; `preserve_access_index` makes clang record each access as a relocation that
 * libbpf resolves against the running kernel's BTF (/sys/kernel/btf/vmlinux) at load time.
 */
#ifndef SENTINEL_PROBE_TYPES_H
#define SENTINEL_PROBE_TYPES_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct kernfs_node {
    u64 id;
};

struct cgroup {
    struct kernfs_node *kn;
};

struct css_set {
    struct cgroup *dfl_cgrp;
};

struct task_struct {
    int pid;
    int tgid;
    int exit_code;
    struct css_set *cgroups;
};

struct linux_binprm {
    const char *filename;
};

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
    unsigned long di;
    unsigned long si;
    unsigned long dx;
    unsigned long r10;
    unsigned long orig_ax;
};
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, di)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, si)
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, dx)
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
    __u64 regs[31];
};
struct pt_regs {
    struct user_pt_regs user_regs;
    __u64 orig_x0;
    __s32 syscallno;
};
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, orig_x0)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, user_regs.regs[1])
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, user_regs.regs[2])
#endif

#pragma clang attribute pop

#endif
