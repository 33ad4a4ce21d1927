/*
 * util.c - configuration values, relay URLs, label maps and the
 * environment scrub shared by the three programs.  Failing functions return
 * -1 or NULL and set *cause to a malloc'd message.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "porthole/util.h"

extern char **environ;

char *
ph_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

char *
ph_setting(const char *flag, const char *env)
{
	const char *v = flag;

	if (v == NULL && env != NULL)
		v = getenv(env);
	if (v == NULL || *v == '\0')
		return NULL;
	return strdup(v);
}

/*
 * Read fd to its end into a new NUL-terminated buffer of at most max bytes;
 * more is EFBIG, or with truncate the first max bytes.  NULL with *err (an
 * errno) on failure.
 */
static char *
read_fd(int fd, size_t max, int truncate, size_t *lenp, int *err)
{
	char *buf;
	size_t len = 0, limit = truncate ? max : max + 1;
	ssize_t r;

	if ((buf = malloc(max + 1)) == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	while (len < limit) {
		r = read(fd, buf + len, limit - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		*err = EFBIG;
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

char *
ph_read_file(const char *path, size_t max, size_t *lenp, char **cause)
{
	char *buf;
	int fd, err;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*cause = ph_asprintf("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = read_fd(fd, max, 0, lenp, &err);
	close(fd);
	if (buf != NULL)
		return buf;
	if (err == ENOMEM)
		*cause = ph_asprintf("out of memory reading %s", path);
	else if (err == EFBIG)
		*cause = ph_asprintf("%s is larger than %zu bytes", path, max);
	else
		*cause = ph_asprintf("cannot read %s: %s", path, strerror(err));
	return NULL;
}

char *
ph_read_file_errno(const char *path, size_t max, int flags, size_t *lenp,
    int *err)
{
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*err = errno;
		return NULL;
	}
	buf = read_fd(fd, max, (flags & PH_READ_TRUNCATE) != 0, lenp, err);
	close(fd);
	return buf;
}

int
ph_write_file(const char *path, const void *p, size_t n, int mode, char **cause)
{
	char *tmp = ph_asprintf("%s.tmp.%ld", path, (long)getpid());
	const char *c = p;
	ssize_t r;
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		*cause = ph_asprintf("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	while (n > 0) {
		r = write(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*cause = ph_asprintf("cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		c += r;
		n -= (size_t)r;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		*cause = ph_asprintf("cannot finish %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		*cause = ph_asprintf("cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
fail:
	close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

char *
ph_secret_value(const char *value, char **cause)
{
	char *s, *start, *end;
	size_t len;

	if (value == NULL || *value == '\0') {
		*cause = ph_asprintf("no value given");
		return NULL;
	}
	if (value[0] != '@')
		return strdup(value);
	if ((s = ph_read_file(value + 1, 65536, &len, cause)) == NULL)
		return NULL;
	for (start = s; isspace((unsigned char)*start); start++)
		;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (*start == '\0') {
		*cause = ph_asprintf("%s is empty", value + 1);
		free(s);
		return NULL;
	}
	memmove(s, start, (size_t)(end - start));
	/* What the move left behind (a shifted tail of the secret): zeros. */
	explicit_bzero(s + (end - start), len + 1 - (size_t)(end - start));
	return s;
}

static int
port_parse(const char *s, int *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

int
ph_hostport_parse(const char *s, char **addr, int *port, char **cause)
{
	const char *colon, *host_start, *host_end;

	if (s == NULL || *s == '\0') {
		*cause = ph_asprintf("empty address");
		return -1;
	}
	if (s[0] == '[') {
		host_start = s + 1;
		host_end = strchr(s, ']');
		if (host_end == NULL || host_end[1] != ':') {
			*cause = ph_asprintf("'%s' is not [ADDR]:PORT", s);
			return -1;
		}
		colon = host_end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*cause = ph_asprintf("'%s' is not ADDR:PORT", s);
			return -1;
		}
		host_start = s;
		host_end = colon;
	}
	if (port_parse(colon + 1, port) != 0) {
		*cause = ph_asprintf("'%s' has no valid port (0-65535)", s);
		return -1;
	}
	if (host_end == host_start) {
		*cause = ph_asprintf("'%s' has no address", s);
		return -1;
	}
	*addr = strndup(host_start, (size_t)(host_end - host_start));
	return 0;
}

int
ph_url_parse(const char *url, char **host, int *port, char **cause)
{
	const char *p, *end;
	char *hp;
	int r;

	if (url == NULL || strncmp(url, "wss://", 6) != 0) {
		*cause = ph_asprintf("relay URL '%s' must start with wss://",
		    url != NULL ? url : "");
		return -1;
	}
	p = url + 6;
	end = strchr(p, '/');
	if (end == NULL)
		end = p + strlen(p);
	else if (end[1] != '\0') {
		*cause = ph_asprintf("relay URL '%s' must not have a path", url);
		return -1;
	}
	if (end == p) {
		*cause = ph_asprintf("relay URL '%s' has no host", url);
		return -1;
	}
	hp = strndup(p, (size_t)(end - p));
	/* A port is present if the host part ends in :digits (outside []). */
	if ((hp[0] == '[' && strstr(hp, "]:") != NULL) ||
	    (hp[0] != '[' && strchr(hp, ':') != NULL)) {
		r = ph_hostport_parse(hp, host, port, cause);
		free(hp);
		if (r == 0 && *port == 0) {
			free(*host);
			*cause = ph_asprintf("relay URL '%s' has port 0", url);
			return -1;
		}
		return r;
	}
	if (hp[0] == '[') {
		size_t n = strlen(hp);
		if (hp[n - 1] != ']') {
			*cause = ph_asprintf("relay URL '%s' is malformed", url);
			free(hp);
			return -1;
		}
		*host = strndup(hp + 1, n - 2);
		free(hp);
	} else
		*host = hp;
	*port = 443;
	return 0;
}

static int
label_key_ok(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)k[i]) && strchr("_.-/", k[i]) == NULL)
			return 0;
	}
	return 1;
}

static int
label_value_ok(const char *v, size_t n)
{
	size_t i;

	if (n > 255)
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f || v[i] == ',' ||
		    v[i] == '=')
			return 0;
	}
	return 1;
}

json_t *
ph_labels_parse(const char *s, char **cause)
{
	json_t *obj = json_object();
	const char *p = s, *comma, *eq;
	char *k, *v;

	if (s == NULL || *s == '\0')
		return obj;
	while (*p != '\0') {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		eq = memchr(p, '=', (size_t)(comma - p));
		if (eq == NULL) {
			*cause = ph_asprintf("label '%.*s' is not key=value",
			    (int)(comma - p), p);
			goto fail;
		}
		if (!label_key_ok(p, (size_t)(eq - p))) {
			*cause = ph_asprintf("label key '%.*s' must be 1-63 of "
			    "[A-Za-z0-9_.-/]", (int)(eq - p), p);
			goto fail;
		}
		if (!label_value_ok(eq + 1, (size_t)(comma - eq - 1))) {
			*cause = ph_asprintf("label value '%.*s' must be at most 255 "
			    "printable characters", (int)(comma - eq - 1), eq + 1);
			goto fail;
		}
		k = strndup(p, (size_t)(eq - p));
		v = strndup(eq + 1, (size_t)(comma - eq - 1));
		json_object_set_new(obj, k, json_string(v));
		free(k);
		free(v);
		p = *comma == ',' ? comma + 1 : comma;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

void
ph_env_scrub(void)
{
	char **e;
	char name[256];
	size_t n;
	int again = 1;

	/* unsetenv() reshuffles environ: rescan after every removal. */
	while (again) {
		again = 0;
		for (e = environ; e != NULL && *e != NULL; e++) {
			if (strncmp(*e, "PORTHOLE_", 9) != 0)
				continue;
			n = strcspn(*e, "=");
			if (n >= sizeof name)
				n = sizeof name - 1;
			memcpy(name, *e, n);
			name[n] = '\0';
			/*
			 * Wipe secrets where they stand: /proc/PID/environ shows
			 * the environment the process started with, and unsetenv()
			 * only unlinks the string.  A program the agent starts as
			 * the same user could read the token there otherwise.
			 */
			if ((strcmp(name, "PORTHOLE_TOKEN") == 0 ||
			    strcmp(name, "PORTHOLE_KEY") == 0) && (*e)[n] == '=')
				explicit_bzero(*e + n + 1, strlen(*e + n + 1));
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

int64_t
ph_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
ph_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ph_arg_wipe(char *arg)
{
	if (arg != NULL && arg[0] != '@')
		memset(arg, 'x', strlen(arg));
}

int
ph_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Freed heap kept for reuse (ph_heap_hold): above the largest resume buffer. */
#define PH_HEAP_KEEP	(96 << 20)

void
ph_heap_hold(void)
{
#if defined(__GLIBC__)
	(void)mallopt(M_TRIM_THRESHOLD, PH_HEAP_KEEP);
#endif
}

void
ph_heap_release(void)
{
#if defined(__GLIBC__)
	(void)malloc_trim(0);
#endif
}
