/*
 * test_revlist.c - the bounded set of revoked token ids (revlist.h) and
 * the PORTHOLE_REVOKED file's "JTI EXP" lines (revoked.h): entries added
 * or extended, never shortened, gone when their time passes; a full set
 * refuses; a pushed `entries` object is checked whole before any of it
 * is taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "porthole/revlist.h"
#include "porthole/revoked.h"
#include "porthole/util.h"

Test(revlist, add_has_expire)
{
	struct ph_revlist l;
	char *cause = NULL;

	ph_revlist_init(&l, 8);
	cr_assert_eq(ph_revlist_add(&l, "b", 100, 10, &cause), 1);
	cr_assert_eq(ph_revlist_add(&l, "a", 0, 10, &cause), 1);
	cr_assert_eq(ph_revlist_add(&l, "c", 5, 10, &cause), 0, "already expired");
	cr_assert(ph_revlist_has(&l, "a", 10));
	cr_assert(ph_revlist_has(&l, "b", 99));
	cr_assert(!ph_revlist_has(&l, "b", 100), "expired at its exp");
	cr_assert(!ph_revlist_has(&l, "c", 10));
	cr_assert_eq(ph_revlist_add(&l, "b", 50, 10, &cause), 0, "never shortened");
	cr_assert(ph_revlist_has(&l, "b", 99));
	cr_assert_eq(ph_revlist_add(&l, "b", 200, 10, &cause), 1, "extended");
	cr_assert(ph_revlist_has(&l, "b", 150));
	cr_assert_eq(ph_revlist_prune(&l, 300), 1);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(ph_revlist_add(&l, "x\ny", 0, 10, &cause), -1);
	free(cause);
	ph_revlist_free(&l);
}

Test(revlist, bounded)
{
	struct ph_revlist l;
	char *cause = NULL, jti[16];
	int i;

	ph_revlist_init(&l, 4);
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof jti, "j%d", i);
		cr_assert_eq(ph_revlist_add(&l, jti, i == 0 ? 20 : 0, 10, &cause), 1);
	}
	cr_assert_eq(ph_revlist_add(&l, "k", 0, 10, &cause), -1, "full");
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_revlist_add(&l, "k", 0, 30, &cause), 1, "j0 expired: room");
	cr_assert(!ph_revlist_has(&l, "j0", 30));
	cr_assert(ph_revlist_has(&l, "k", 30));
	ph_revlist_free(&l);
}

Test(revlist, json)
{
	struct ph_revlist l;
	char *cause = NULL;
	size_t added;
	json_t *j;

	ph_revlist_init(&l, 8);
	j = json_loads("{\"a\": 100, \"b\": 200}", 0, NULL);
	cr_assert_eq(ph_revlist_add_json(&l, j, 10, &added, &cause), 0);
	cr_assert_eq(added, 2);
	json_decref(j);
	j = json_loads("{\"c\": 100, \"d\": \"x\"}", 0, NULL);
	cr_assert_eq(ph_revlist_add_json(&l, j, 10, &added, &cause), -1);
	cr_assert(!ph_revlist_has(&l, "c", 10), "nothing of a bad object is taken");
	free(cause);
	cause = NULL;
	json_decref(j);
	j = json_loads("{\"e\": 0}", 0, NULL);
	cr_assert_eq(ph_revlist_add_json(&l, j, 10, &added, &cause), -1,
	    "a pushed entry always expires");
	free(cause);
	json_decref(j);
	j = json_loads("[1]", 0, NULL);
	cause = NULL;
	cr_assert_eq(ph_revlist_add_json(&l, j, 10, &added, &cause), -1);
	free(cause);
	json_decref(j);
	ph_revlist_free(&l);
}

Test(revlist, file_lines)
{
	struct ph_revoked r;
	char path[] = "/tmp/test_revlist.XXXXXX", *cause = NULL, *text;
	int fd;
	int64_t now = ph_now();

	fd = mkstemp(path);
	cr_assert(fd >= 0);
	text = ph_asprintf("# comment\nforever\nlater %lld\npast %lld\n"
	    "with space  \n", (long long)(now + 3600), (long long)(now - 10));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(text);
	cr_assert_eq(ph_revoked_init(&r, path, &cause), 0, "%s", cause);
	cr_assert(ph_revoked_has(&r, "forever"));
	cr_assert(ph_revoked_has(&r, "later"));
	cr_assert(!ph_revoked_has(&r, "past"), "an entry whose time passed");
	cr_assert(ph_revoked_has(&r, "with space"));
	ph_revoked_free(&r);
	unlink(path);
}
