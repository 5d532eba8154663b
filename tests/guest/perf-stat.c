/*
 * A minimal `perf stat -e cycles,instructions CMD...` for the test initramfs
 * (busybox has no perf): counts the command's user and kernel cycles and
 * instructions through perf_event_open, i.e. the kernel's RISC-V SBI PMU driver.
 * Prints "cycles N" and "instructions N", or the failing step and errno.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_counter(uint64_t config, pid_t pid)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_HARDWARE;
	attr.config = config;
	attr.disabled = 1;
	attr.enable_on_exec = 1;
	attr.inherit = 1;
	return syscall(SYS_perf_event_open, &attr, pid, -1, -1, 0);
}

int main(int argc, char **argv)
{
	int go[2], fds[2], status;
	uint64_t counts[2];
	const char *names[2] = { "cycles", "instructions" };
	pid_t child;
	char byte = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: perf-stat CMD [ARGS...]\n");
		return 2;
	}
	if (pipe(go) != 0)
		return 2;
	child = fork();
	if (child == 0) {
		close(go[1]);
		if (read(go[0], &byte, 1) != 1)
			_exit(127);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	fds[0] = open_counter(PERF_COUNT_HW_CPU_CYCLES, child);
	fds[1] = open_counter(PERF_COUNT_HW_INSTRUCTIONS, child);
	for (int i = 0; i < 2; i++)
		if (fds[i] < 0)
			printf("perf_event_open %s: %s\n", names[i], strerror(errno));
	if (write(go[1], &byte, 1) != 1)
		return 2;
	waitpid(child, &status, 0);
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 0 || read(fds[i], &counts[i], 8) != 8)
			continue;
		printf("%s %llu\n", names[i], (unsigned long long)counts[i]);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
