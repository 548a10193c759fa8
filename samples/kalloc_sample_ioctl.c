// SPDX-License-Identifier: GPL-2.0
/*
 * The user-space half of the kalloc sample: drives /dev/kalloc-sample's
 * ioctls, good requests and bad ones, and checks each answer. Prints
 * "ok WHAT" or "FAILED WHAT" per check; exits non-zero if any failed.
 * Built statically, it runs in the test VM's busybox initramfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct kalloc_sample_record {
	uint32_t len;
	uint8_t data[256];
};

#define KALLOC_SAMPLE_RESET _IO('k', 0)
#define KALLOC_SAMPLE_COUNT _IOR('k', 1, uint32_t)
#define KALLOC_SAMPLE_APPEND _IOW('k', 2, struct kalloc_sample_record)

static int failed;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "FAILED", what);
	if (!ok)
		failed = 1;
}

/* Whether the ioctl failed with @err. */
static int fails_with(int ret, int err)
{
	return ret == -1 && errno == err;
}

int main(void)
{
	struct kalloc_sample_record rec = { .len = 5, .data = "hello" };
	uint32_t count = 99;
	char buf[64];
	int fd = open("/dev/kalloc-sample", O_RDWR);

	if (fd < 0) {
		perror("open /dev/kalloc-sample");
		return 1;
	}
	check(ioctl(fd, KALLOC_SAMPLE_APPEND, &rec) == 0, "append a record (copy_from_user into the slab object)");
	check(ioctl(fd, KALLOC_SAMPLE_COUNT, &count) == 0 && count == 1, "count is 1");
	check(read(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5), "read back the record");
	rec.len = sizeof(rec.data) + 1;
	check(fails_with(ioctl(fd, KALLOC_SAMPLE_APPEND, &rec), EINVAL), "a record longer than 256 bytes is EINVAL");
	check(fails_with(ioctl(fd, KALLOC_SAMPLE_APPEND, NULL), EFAULT), "append from a NULL pointer is EFAULT");
	check(fails_with(ioctl(fd, KALLOC_SAMPLE_COUNT, NULL), EFAULT), "count to a NULL pointer is EFAULT");
	check(fails_with(ioctl(fd, _IO('k', 9)), ENOTTY), "an unknown ioctl is ENOTTY");
	check(ioctl(fd, KALLOC_SAMPLE_COUNT, &count) == 0 && count == 1, "failed requests changed nothing");
	check(ioctl(fd, KALLOC_SAMPLE_RESET) == 0, "reset");
	check(ioctl(fd, KALLOC_SAMPLE_COUNT, &count) == 0 && count == 0, "count is 0 after reset");
	close(fd);
	return failed;
}
