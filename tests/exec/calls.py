# Exercised through `lockline exec`: every family of calls the preload
# library serves, each checked against what a POSIX file system returns.
import errno
import os
import sys

d = os.environ["LOCKLINE_DIR"]
p = os.path.join(d, "a")


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)


# open/write/read/lseek/fstat
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
check(os.write(fd, b"a" * 5000) == 5000, "write")
check(os.fstat(fd).st_size == 5000, "fstat size")
check(os.lseek(fd, 0, os.SEEK_CUR) == 5000, "position after write")
check(os.lseek(fd, -100, os.SEEK_END) == 4900, "SEEK_END")
check(os.read(fd, 200) == b"a" * 100, "read to EOF")
check(os.lseek(fd, 10, os.SEEK_DATA) == 10, "SEEK_DATA")
check(os.lseek(fd, 10, os.SEEK_HOLE) == 5000, "SEEK_HOLE is EOF")
try:
    os.lseek(fd, 6000, os.SEEK_DATA)
    check(False, "SEEK_DATA past EOF")
except OSError as e:
    check(e.errno == errno.ENXIO, "SEEK_DATA past EOF is ENXIO")
# positioned and vectored IO, a write past EOF leaves a hole of zeros
check(os.pwrite(fd, b"b" * 10, 8192) == 10, "pwrite past EOF")
check(os.pread(fd, 20, 8190) == b"\0\0" + b"b" * 10, "hole reads zeros")
check(os.pwritev(fd, [b"c" * 3, b"d" * 4], 100) == 7, "pwritev")
buf1, buf2 = bytearray(3), bytearray(4)
check(os.preadv(fd, [buf1, buf2], 100) == 7 and buf1 + buf2 == b"cccdddd", "preadv")
# fallocate, truncate by descriptor and by path, stat by path
os.posix_fallocate(fd, 0, 20000)
check(os.stat(p).st_size == 20000, "posix_fallocate extends")
os.ftruncate(fd, 3000)
check(os.fstat(fd).st_size == 3000, "ftruncate")
os.truncate(p, 4096)
check(os.stat(p).st_size == 4096, "truncate by path")
check(os.pread(fd, 10, 3000) == b"\0" * 10, "truncated tail reads zeros")
os.fsync(fd)
os.fdatasync(fd)
# dup shares the position; F_GETFL reports the access mode
fd2 = os.dup(fd)
os.lseek(fd, 7, os.SEEK_SET)
check(os.lseek(fd2, 0, os.SEEK_CUR) == 7, "dup shares the position")
os.close(fd2)
# O_APPEND writes land at EOF whatever the position
fa = os.open(p, os.O_WRONLY | os.O_APPEND)
os.lseek(fa, 0, os.SEEK_SET)
os.write(fa, b"e" * 100)
check(os.stat(p).st_size == 4196, "O_APPEND appends")
os.close(fa)
# O_EXCL, O_TRUNC, a read-only descriptor refuses writes
try:
    os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    check(False, "O_EXCL on an existing file")
except OSError as e:
    check(e.errno == errno.EEXIST, "O_EXCL is EEXIST")
fr = os.open(p, os.O_RDONLY)
try:
    os.write(fr, b"x")
    check(False, "write on O_RDONLY")
except OSError as e:
    check(e.errno == errno.EBADF, "write on O_RDONLY is EBADF")
os.close(fr)
# namespace: mkdir, rename, listdir, unlink of an open file
os.mkdir(os.path.join(d, "sub"))
os.rename(p, os.path.join(d, "sub", "b"))
check(sorted(os.listdir(d)) == ["sub"], "listdir shows the engine's names")
check(os.listdir(os.path.join(d, "sub")) == ["b"], "rename")
os.unlink(os.path.join(d, "sub", "b"))
check(os.pread(fd, 5, 0) == b"aaaaa", "an unlinked open file still reads")
os.close(fd)
try:
    os.stat(os.path.join(d, "sub", "b"))
    check(False, "stat of an unlinked file")
except OSError as e:
    check(e.errno == errno.ENOENT, "unlinked is ENOENT")
with open(os.path.join(d, "kept"), "wb") as f:
    f.write(b"kept" * 1024)
print("all calls OK")
