//! lockline's eBPF programs: one uprobe program for every engine probe symbol
//! and tracepoint programs for the kernel's side of buffered IO. Every
//! program writes lockline_engine::probe::Event (64 bytes) to its CPU's ring.
//!
//! No vmlinux.h: the tracepoint context structs below are written by hand
//! from /sys/kernel/tracing/events/<cat>/<name>/format (kernel 6.18); the
//! offsets are asserted so a typo fails the build, not the trace.

#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Mirrors lockline_engine::probe::Event (repr(C)). */
struct event {
	__u64 ts_ns;
	__u32 tid;
	__u32 code;
	__u64 inode;
	__u64 folio;
	__u64 op;
	__u64 a;
	__u64 b;
	__u64 fid;
};
_Static_assert(sizeof(struct event) == 64, "Event layout");

/* EventKind, LockClass and OpKind numbers from engine/src/probe/schema.rs. */
enum {
	K_LOCK_WAIT = 1,
	K_LOCK_ACQUIRED = 2,
	K_FOLIO_ADDED = 4,
	K_FOLIO_REMOVED = 5,
	K_FOLIO_DIRTIED = 6,
	K_SYSCALL_ENTER = 19,
	K_SYSCALL_EXIT = 20,
	K_WRITE_BEGIN = 21,
	K_WRITE_END = 22,
};
enum { CLASS_KERNEL = 6 };
enum { OP_WRITE = 1, OP_READ = 2, OP_TRUNCATE = 3, OP_FALLOCATE = 4, OP_FSYNC = 6 };
#define NO_FOLIO (~0ULL)
#define CODE(kind, class) ((__u32)(kind) | ((__u32)(class) << 8))

/* Four rings, a CPU writing to ring (cpu % 4): a ring's reserve takes a
 * spinlock, and with one shared ring two CPUs tracing at once spent a third
 * of each hit waiting for each other. 4 MiB each by default; the loader may
 * resize them (power of two, page multiple). */
#define RING(name)                                   \
	struct {                                     \
		__uint(type, BPF_MAP_TYPE_RINGBUF);  \
		__uint(max_entries, 1 << 22);        \
	} name SEC(".maps")
RING(EVENTS0);
RING(EVENTS1);
RING(EVENTS2);
RING(EVENTS3);

/* Reserve failures (ring full), per CPU so counting never contends.
 * Index 0: engine uprobes, 1: kernel tracepoints. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} DROPS SEC(".maps");

/* Kernel-event filters, one entry each, 0 = no filter. TGID filters events
 * raised in a task's own context (syscalls, lock contention); DEV and INO
 * filter file events (page cache, dirtying, ext4), which often run in
 * kworkers. DEV is the kernel's dev_t encoding (major << 20 | minor). */
#define FILTER_MAP(name)                          \
	struct {                                  \
		__uint(type, BPF_MAP_TYPE_ARRAY); \
		__uint(max_entries, 1);           \
		__type(key, __u32);               \
		__type(value, __u64);             \
	} name SEC(".maps")
FILTER_MAP(TARGET_TGID);
FILTER_MAP(TARGET_DEV);
FILTER_MAP(TARGET_INO);

/* fd of the syscall a thread is in, so sys_exit events can carry it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} PENDING_FD SEC(".maps");

static __always_inline __u64 filter(void *map)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(map, &k);
	return v ? *v : 0;
}

static __always_inline int tgid_ok(void)
{
	__u64 want = filter(&TARGET_TGID);
	return !want || want == (bpf_get_current_pid_tgid() >> 32);
}

static __always_inline int file_ok(__u64 dev, int has_dev, __u64 ino)
{
	__u64 want_dev = filter(&TARGET_DEV), want_ino = filter(&TARGET_INO);
	if (has_dev && want_dev && want_dev != dev)
		return 0;
	return !want_ino || want_ino == ino;
}

static __always_inline int emit(__u32 drop_slot, __u32 code, __u64 inode, __u64 folio,
				__u64 op, __u64 a, __u64 b, __u64 fid)
{
	struct event *e;
	switch (bpf_get_smp_processor_id() & 3) {
	case 0:
		e = bpf_ringbuf_reserve(&EVENTS0, sizeof(*e), 0);
		break;
	case 1:
		e = bpf_ringbuf_reserve(&EVENTS1, sizeof(*e), 0);
		break;
	case 2:
		e = bpf_ringbuf_reserve(&EVENTS2, sizeof(*e), 0);
		break;
	default:
		e = bpf_ringbuf_reserve(&EVENTS3, sizeof(*e), 0);
		break;
	}
	if (!e) {
		__u64 *d = bpf_map_lookup_elem(&DROPS, &drop_slot);
		if (d)
			(*d)++;
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->code = code;
	e->inode = inode;
	e->folio = folio;
	e->op = op;
	e->a = a;
	e->b = b;
	e->fid = fid;
	/* No wakeup: the reader drains on a timer. Waking it per event (the
	 * default when it has caught up) costs microseconds per hit. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

/* ---- engine probe symbols ------------------------------------------------ */

/* x86_64 struct pt_regs as the kernel lays it out; only the argument
 * registers are read. */
struct x86_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

/* Attached to every lockline_* symbol: the System V argument registers are
 * the probe ABI (code, inode, folio, op, a, b); the seventh argument, the
 * folio identity, is on the caller's stack just above the return address
 * (the probe fires on the symbol's first instruction, before any push). */
SEC("uprobe")
int engine_probe(struct x86_regs *ctx)
{
	__u64 fid = 0;
	if (bpf_probe_read_user(&fid, sizeof(fid), (void *)(ctx->sp + 8)))
		fid = 0;
	return emit(0, (__u32)ctx->di, ctx->si, ctx->dx, ctx->cx, ctx->r8, ctx->r9, fid);
}

/* Does nothing: the cost of the uprobe trampoline alone, for benchmarks. */
SEC("uprobe")
int empty_probe(void *ctx)
{
	return 0;
}

/* ---- syscalls ------------------------------------------------------------ */

struct sys_enter_hdr {
	__u64 common;
	__s32 nr;
	__u32 pad;
};
struct sys_enter_rw { /* pwrite64, pread64 */
	struct sys_enter_hdr h;
	__u64 fd, buf, count;
	__s64 pos;
};
struct sys_enter_ftruncate {
	struct sys_enter_hdr h;
	__u64 fd, length;
};
struct sys_enter_fallocate {
	struct sys_enter_hdr h;
	__u64 fd, mode;
	__s64 offset, len;
};
struct sys_enter_fd { /* fsync, fdatasync */
	struct sys_enter_hdr h;
	__u64 fd;
};
struct sys_exit {
	struct sys_enter_hdr h;
	__s64 ret;
};
_Static_assert(__builtin_offsetof(struct sys_enter_rw, fd) == 16, "fd");
_Static_assert(__builtin_offsetof(struct sys_enter_rw, pos) == 40, "pos");
_Static_assert(__builtin_offsetof(struct sys_enter_fallocate, len) == 40, "len");
_Static_assert(__builtin_offsetof(struct sys_exit, ret) == 16, "ret");

static __always_inline int sys_enter(__u32 op, __u64 fd, __u64 b)
{
	if (!tgid_ok())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&PENDING_FD, &tid, &fd, BPF_ANY);
	return emit(1, CODE(K_SYSCALL_ENTER, op), 0, NO_FOLIO, 0, fd, b, 0);
}

static __always_inline int sys_exit(__u32 op, __s64 ret)
{
	if (!tgid_ok())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 fd = 0, *p = bpf_map_lookup_elem(&PENDING_FD, &tid);
	if (p) {
		fd = *p;
		bpf_map_delete_elem(&PENDING_FD, &tid);
	}
	return emit(1, CODE(K_SYSCALL_EXIT, op), 0, NO_FOLIO, 0, fd, (__u64)ret, 0);
}

#define SYS_EXIT(name, op)                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)              \
	int exit_##name(struct sys_exit *ctx)                   \
	{                                                       \
		return sys_exit(op, ctx->ret);                  \
	}

SEC("tracepoint/syscalls/sys_enter_pwrite64")
int enter_pwrite64(struct sys_enter_rw *ctx)
{
	return sys_enter(OP_WRITE, ctx->fd, ctx->count);
}
SYS_EXIT(pwrite64, OP_WRITE)

SEC("tracepoint/syscalls/sys_enter_pread64")
int enter_pread64(struct sys_enter_rw *ctx)
{
	return sys_enter(OP_READ, ctx->fd, ctx->count);
}
SYS_EXIT(pread64, OP_READ)

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int enter_ftruncate(struct sys_enter_ftruncate *ctx)
{
	return sys_enter(OP_TRUNCATE, ctx->fd, ctx->length);
}
SYS_EXIT(ftruncate, OP_TRUNCATE)

SEC("tracepoint/syscalls/sys_enter_fallocate")
int enter_fallocate(struct sys_enter_fallocate *ctx)
{
	return sys_enter(OP_FALLOCATE, ctx->fd, (__u64)ctx->len);
}
SYS_EXIT(fallocate, OP_FALLOCATE)

SEC("tracepoint/syscalls/sys_enter_fsync")
int enter_fsync(struct sys_enter_fd *ctx)
{
	return sys_enter(OP_FSYNC, ctx->fd, 0);
}
SYS_EXIT(fsync, OP_FSYNC)

SEC("tracepoint/syscalls/sys_enter_fdatasync")
int enter_fdatasync(struct sys_enter_fd *ctx)
{
	return sys_enter(OP_FSYNC, ctx->fd, 0);
}
SYS_EXIT(fdatasync, OP_FSYNC)

/* ---- page cache ---------------------------------------------------------- */

struct writeback_dirty_folio {
	__u64 common;
	char name[32]; /* bdi name; the format has no dev, so only INO filters */
	__u64 ino;
	__u64 index;
};
_Static_assert(__builtin_offsetof(struct writeback_dirty_folio, ino) == 40, "ino");

SEC("tracepoint/writeback/writeback_dirty_folio")
int dirty_folio(struct writeback_dirty_folio *ctx)
{
	if (!file_ok(0, 0, ctx->ino))
		return 0;
	return emit(1, CODE(K_FOLIO_DIRTIED, 0), ctx->ino, ctx->index, 0, 0, 0, 0);
}

struct mm_filemap {
	__u64 common;
	__u64 pfn;
	__u64 i_ino;
	__u64 index;
	__u32 s_dev;
	__u8 order;
};
_Static_assert(__builtin_offsetof(struct mm_filemap, s_dev) == 32, "s_dev");
_Static_assert(__builtin_offsetof(struct mm_filemap, order) == 36, "order");

SEC("tracepoint/filemap/mm_filemap_add_to_page_cache")
int folio_added(struct mm_filemap *ctx)
{
	if (!file_ok(ctx->s_dev, 1, ctx->i_ino))
		return 0;
	return emit(1, CODE(K_FOLIO_ADDED, 0), ctx->i_ino, ctx->index, 0, ctx->order, 0,
		    ctx->pfn + 1);
}

SEC("tracepoint/filemap/mm_filemap_delete_from_page_cache")
int folio_removed(struct mm_filemap *ctx)
{
	if (!file_ok(ctx->s_dev, 1, ctx->i_ino))
		return 0;
	return emit(1, CODE(K_FOLIO_REMOVED, 0), ctx->i_ino, ctx->index, 0, ctx->order, 0,
		    ctx->pfn + 1);
}

/* ---- kernel lock contention ---------------------------------------------- */

struct contention_begin {
	__u64 common;
	__u64 lock_addr;
	__u32 flags;
};
struct contention_end {
	__u64 common;
	__u64 lock_addr;
	__s32 ret;
};

SEC("tracepoint/lock/contention_begin")
int lock_contention_begin(struct contention_begin *ctx)
{
	if (!tgid_ok())
		return 0;
	return emit(1, CODE(K_LOCK_WAIT, CLASS_KERNEL), 0, ctx->lock_addr, 0, ctx->flags, 0,
		    0);
}

SEC("tracepoint/lock/contention_end")
int lock_contention_end(struct contention_end *ctx)
{
	if (!tgid_ok())
		return 0;
	return emit(1, CODE(K_LOCK_ACQUIRED, CLASS_KERNEL), 0, ctx->lock_addr, 0, 0,
		    (__u64)(__s64)ctx->ret, 0);
}

/* ---- ext4 delayed-allocation writes -------------------------------------- */

struct ext4_da_write {
	__u64 common;
	__u32 dev;
	__u32 pad;
	__u64 ino;
	__s64 pos;
	__u32 len;
	__u32 copied; /* write_end only */
};
_Static_assert(__builtin_offsetof(struct ext4_da_write, ino) == 16, "ino");
_Static_assert(__builtin_offsetof(struct ext4_da_write, copied) == 36, "copied");

SEC("tracepoint/ext4/ext4_da_write_begin")
int ext4_write_begin(struct ext4_da_write *ctx)
{
	if (!file_ok(ctx->dev, 1, ctx->ino))
		return 0;
	return emit(1, CODE(K_WRITE_BEGIN, 0), ctx->ino, (__u64)ctx->pos >> 12, 0,
		    (__u64)ctx->pos, ctx->len, 0);
}

SEC("tracepoint/ext4/ext4_da_write_end")
int ext4_write_end(struct ext4_da_write *ctx)
{
	if (!file_ok(ctx->dev, 1, ctx->ino))
		return 0;
	return emit(1, CODE(K_WRITE_END, 0), ctx->ino, (__u64)ctx->pos >> 12, 0,
		    (__u64)ctx->pos, ctx->copied, 0);
}
