// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
// (GPL-compatible dual licence: the kernel lets only GPL programs use
// bpf_probe_read_kernel and bpf_get_current_task.)
//
// Process events of watched containers, filtered in the kernel by cgroup.
//
// Programs attach to classic tracepoints; their context structs below are
// declared from /sys/kernel/tracing/events/<group>/<name>/format, so the
// base programs need no BTF. The *_core variants additionally read the
// executable's device and inode, the effective ids and the start time from
// the task through CO-RE (relocated against /sys/kernel/btf/vmlinux at load);
// user space loads them only when the kernel has BTF.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;

char LICENSE[] SEC("license") = "GPL";

#define FILENAME_LEN 256
#define CLONE_THREAD 0x00010000

enum event_kind {
	EV_EXEC = 1,
	EV_FORK = 2,
	EV_EXIT = 3,
	EV_UID = 4,
	EV_GID = 5,
};

// One record in the ring buffer. Keep in step with Event decoding in Go
// (bpf2go generates the Go struct from this one: -type event).
struct event {
	u64 timestamp;     // CLOCK_MONOTONIC at the tracepoint (as the proc connector's)
	u64 cgroup_id;     // unified (v2) cgroup of the task
	u64 start_boottime; // the process's start time, boot ns (0 when unknown)
	u64 exe_ino;       // executable's inode (0 when unknown)
	u64 cap_eff;       // effective capabilities (only with CO-RE; else 0)
	u32 exe_dev;       // executable's device, kernel encoding (MAJOR<<20|MINOR)
	u32 kind;          // enum event_kind
	s32 tgid;
	s32 pid;
	s32 ppid;          // fork: the parent's tgid; exec: the pid before exec (old_pid)
	s32 child;         // fork: the child's pid
	u32 uid, gid;      // real ids
	u32 euid, egid;    // effective ids (only with CO-RE; else the real ones)
	u32 suid, fsuid;   // saved and filesystem uids (only with CO-RE; else the real one)
	u32 flags;         // EVF_*
	u32 filename_len;  // bytes in filename, including the NUL
	char filename[FILENAME_LEN];
};

#define EVF_CORE 1       // start_boottime, exe, euid/egid are filled
#define EVF_GROUP_DEAD 2 // exit: the last thread of the process

// What is kept per watched cgroup: the filter itself and the capability
// checks its processes made.
struct watched {
	u64 caps_used;   // capability checks that succeeded (bit = capability)
	u64 caps_denied; // capability checks that failed
	u64 events;      // events emitted for the cgroup
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct watched);
} watched_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

// Index 0: events lost because the ring buffer was full.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

// Types for bpf2go's -type.
const struct event *unused_event __attribute__((unused));

// Minimal kernel structs for CO-RE: only the fields read, relocated by name.
struct super_block {
	u32 s_dev;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

typedef struct {
	u32 val;
} kuid_t;

typedef struct {
	u32 val;
} kgid_t;

// kernel_cap_t is struct { u64 val; } since 6.3 and struct { u32 cap[2]; }
// before: both 8 bytes, read whole (only the field's offset is relocated).
typedef struct {
	u64 val;
} kernel_cap_t;

struct cred {
	kuid_t suid;
	kuid_t euid;
	kuid_t fsuid;
	kgid_t egid;
	kernel_cap_t cap_effective;
} __attribute__((preserve_access_index));

struct task_struct {
	struct mm_struct *mm;
	struct task_struct *group_leader;
	const struct cred *real_cred;
	const struct cred *cred;
	u64 start_boottime;
} __attribute__((preserve_access_index));

// Tracepoint contexts, from the format files.
struct common {
	u16 common_type;
	u8 common_flags;
	u8 common_preempt_count;
	s32 common_pid;
};

struct tp_exec { // sched/sched_process_exec
	struct common c;
	u32 filename_loc; // __data_loc char[]: offset (low 16 bits), length (high 16)
	s32 pid;
	s32 old_pid;
};

struct tp_newtask { // task/task_newtask
	struct common c;
	s32 pid;
	char comm[16];
	u64 clone_flags;
	__s16 oom_score_adj;
};

struct tp_exit { // sched/sched_process_exit
	struct common c;
	char comm[16];
	s32 pid;
	s32 prio;
	u8 group_dead;
};

struct tp_sys_exit { // syscalls/sys_exit_*
	struct common c;
	s32 syscall_nr;
	s64 ret;
};

struct tp_cap_capable { // capability/cap_capable
	struct common c;
	const void *cred;
	const void *target_ns;
	const void *capable_ns;
	s32 cap;
	s32 ret;
};

// Deepest cgroup level searched for a watched ancestor.
#define MAX_NEST 16

// watched_current finds the watched cgroup the current task is in: its own
// cgroup, else its nearest watched ancestor (a container that makes
// sub-cgroups of its own: systemd inside it, Docker in Docker). *cgid is
// set to the watched cgroup's id, the one user space registered.
static __always_inline struct watched *watched_current(u64 *cgid)
{
	u64 id = bpf_get_current_cgroup_id();
	struct watched *w = bpf_map_lookup_elem(&watched_cgroups, &id);
	if (w) {
		*cgid = id;
		return w;
	}
	// Ancestors from the root down; the last match is the nearest. Past
	// the task's own level the helper answers 0.
	for (int level = 1; level < MAX_NEST; level++) {
		u64 a = bpf_get_current_ancestor_cgroup_id(level);
		if (a == 0 || a == id)
			break;
		struct watched *aw = bpf_map_lookup_elem(&watched_cgroups, &a);
		if (aw) {
			w = aw;
			*cgid = a;
		}
	}
	return w;
}

static __always_inline struct event *reserve(struct watched *w, u64 cgid, u32 kind)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(struct event), 0);
	if (!e) {
		u32 zero = 0;
		u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
		return 0;
	}
	__sync_fetch_and_add(&w->events, 1);
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u64 uid_gid = bpf_get_current_uid_gid();
	e->timestamp = bpf_ktime_get_ns();
	e->cgroup_id = cgid;
	e->start_boottime = 0;
	e->exe_ino = 0;
	e->exe_dev = 0;
	e->kind = kind;
	e->tgid = pid_tgid >> 32;
	e->pid = (u32)pid_tgid;
	e->ppid = 0;
	e->child = 0;
	e->uid = (u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->euid = e->uid;
	e->egid = e->gid;
	e->suid = e->uid;
	e->fsuid = e->uid;
	e->cap_eff = 0;
	e->flags = 0;
	e->filename_len = 0;
	e->filename[0] = 0;
	return e;
}

// fill_creds reads the task's credentials beyond the real ids, through
// CO-RE: what the exec and privilege rules judge.
static __always_inline void fill_creds(struct event *e, struct task_struct *t)
{
	const struct cred *c = BPF_CORE_READ(t, cred);
	e->euid = BPF_CORE_READ(c, euid.val);
	e->egid = BPF_CORE_READ(c, egid.val);
	e->suid = BPF_CORE_READ(c, suid.val);
	e->fsuid = BPF_CORE_READ(c, fsuid.val);
	bpf_core_read(&e->cap_eff, sizeof(e->cap_eff), &c->cap_effective);
}

// fill_core reads what only the task struct knows, through CO-RE.
static __always_inline void fill_core(struct event *e)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	e->start_boottime = BPF_CORE_READ(leader, start_boottime);
	fill_creds(e, t);
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	if (exe) {
		e->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		e->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	}
	e->flags |= EVF_CORE;
}

static __always_inline int on_exec(struct tp_exec *ctx, int core)
{
	u64 cgid;
	struct watched *w = watched_current(&cgid);
	if (!w)
		return 0;
	struct event *e = reserve(w, cgid, EV_EXEC);
	if (!e)
		return 0;
	e->ppid = ctx->old_pid;
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
					   (void *)ctx + (ctx->filename_loc & 0xffff));
	e->filename_len = n > 0 ? n : 0;
	if (core)
		fill_core(e);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int exec_core(struct tp_exec *ctx) { return on_exec(ctx, 1); }

SEC("tracepoint/sched/sched_process_exec")
int exec_plain(struct tp_exec *ctx) { return on_exec(ctx, 0); }

// task_newtask runs in the parent and, unlike sched_process_fork, says
// whether the new task is a thread: threads are not reported.
SEC("tracepoint/task/task_newtask")
int newtask(struct tp_newtask *ctx)
{
	if (ctx->clone_flags & CLONE_THREAD)
		return 0;
	u64 cgid;
	struct watched *w = watched_current(&cgid);
	if (!w)
		return 0;
	struct event *e = reserve(w, cgid, EV_FORK);
	if (!e)
		return 0;
	e->ppid = e->tgid;
	e->child = ctx->pid;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int proc_exit(struct tp_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	// Reported for the thread-group leader, as the proc connector does.
	if ((u32)pid_tgid != (pid_tgid >> 32))
		return 0;
	u64 cgid;
	struct watched *w = watched_current(&cgid);
	if (!w)
		return 0;
	struct event *e = reserve(w, cgid, EV_EXIT);
	if (!e)
		return 0;
	if (ctx->group_dead)
		e->flags |= EVF_GROUP_DEAD;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int on_id_change(struct tp_sys_exit *ctx, u32 kind, int core)
{
	if (ctx->ret != 0)
		return 0;
	u64 cgid;
	struct watched *w = watched_current(&cgid);
	if (!w)
		return 0;
	struct event *e = reserve(w, cgid, kind);
	if (!e)
		return 0;
	if (core) {
		fill_creds(e, (struct task_struct *)bpf_get_current_task());
		e->flags |= EVF_CORE;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#define ID_PROGS(sys, kind)                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                              \
	int sys##_core(struct tp_sys_exit *ctx) { return on_id_change(ctx, kind, 1); } \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                              \
	int sys##_plain(struct tp_sys_exit *ctx) { return on_id_change(ctx, kind, 0); }

ID_PROGS(setuid, EV_UID)
ID_PROGS(setreuid, EV_UID)
ID_PROGS(setresuid, EV_UID)
ID_PROGS(setgid, EV_GID)
ID_PROGS(setregid, EV_GID)
ID_PROGS(setresgid, EV_GID)

// Kernel text ranges [lo, hi) of the functions that probe CAP_SYS_ADMIN
// without using it: the memory accounting of every mmap, brk and stack
// growth asks whether the task could dip into the admin reserve
// (cap_vm_enough_memory). User space fills them from /proc/kallsyms at
// load; zero ranges match nothing.
#define PROBE_RANGES 2
volatile const u64 probe_lo[PROBE_RANGES];
volatile const u64 probe_hi[PROBE_RANGES];
#define PROBE_FRAMES 4
#define CAP_SYS_ADMIN 21

// from_probe reports whether a capability check was made by one of the
// probing functions: one of the first frames of the kernel stack lies in
// a probe range.
static __always_inline int from_probe(void *ctx)
{
	u64 ips[PROBE_FRAMES] = {};
	long n = bpf_get_stack(ctx, ips, sizeof(ips), 0);
	if (n <= 0)
		return 0;
	for (int i = 0; i < PROBE_FRAMES; i++) {
		for (int r = 0; r < PROBE_RANGES; r++) {
			if (ips[i] >= probe_lo[r] && ips[i] < probe_hi[r])
				return 1;
		}
	}
	return 0;
}

// runc_init reports whether the current task is runc's own init (it names
// itself "runc:[0:PARENT]", "runc:[1:CHILD]", "runc:[2:INIT]" until it execs
// the workload): its set-up (pivot_root, mounts, dropping capabilities,
// joining namespaces for runc exec) is not the workload's use.
static __always_inline int runc_init(void)
{
	char comm[16];
	if (bpf_get_current_comm(comm, sizeof(comm)) != 0)
		return 0;
	return comm[0] == 'r' && comm[1] == 'u' && comm[2] == 'n' && comm[3] == 'c' && comm[4] == ':' && comm[5] == '[';
}

// on_cap_capable records, per watched cgroup, which capabilities its
// processes were checked for and whether the check succeeded. Checks that
// are not the workload's own use are left out: runc's init, the probes of
// from_probe and (with CO-RE) checks of credentials other than the task's
// own, such as overlayfs acting with its mounter's.
static __always_inline int on_cap_capable(struct tp_cap_capable *ctx, int core)
{
	u32 cap = ctx->cap;
	if (cap >= 64)
		return 0;
	u64 cgid;
	struct watched *w = watched_current(&cgid);
	if (!w)
		return 0;
	u64 bit = 1ULL << cap;
	u64 *set = ctx->ret == 0 ? &w->caps_used : &w->caps_denied;
	if (*set & bit)
		return 0; // known already: the common case costs the lookup only
	if (runc_init())
		return 0;
	if (core) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		if ((const void *)BPF_CORE_READ(t, real_cred) != ctx->cred)
			return 0;
	}
	if (cap == CAP_SYS_ADMIN && from_probe(ctx))
		return 0;
	__sync_fetch_and_or(set, bit);
	return 0;
}

SEC("tracepoint/capability/cap_capable")
int cap_capable_core(struct tp_cap_capable *ctx) { return on_cap_capable(ctx, 1); }

SEC("tracepoint/capability/cap_capable")
int cap_capable_plain(struct tp_cap_capable *ctx) { return on_cap_capable(ctx, 0); }
