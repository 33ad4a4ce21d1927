/*
 * test_client_exit.c - the CLI's table of how sessions end
 * (client/client-exit.c, compiled in): every close code and every error
 * code that include/porthole/protocol.h defines has a row, read from the
 * header itself so that a code added there without a row fails here; and
 * the lines say words, not codes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/protocol.h"
#include "client-exit.h"

/* Stand-ins for what client-exit.c calls in client-target.c. */
char *
client_printable(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static char *
protocol_h(void)
{
	FILE	*fp = fopen(SOURCE_ROOT "/include/porthole/protocol.h", "r");
	char	*buf;
	long	 n;

	cr_assert_not_null(fp, "cannot open protocol.h");
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

Test(client_exit, every_error_code_has_a_row)
{
	char	*h = protocol_h(), *p = h, *q, code[64];
	int	 n = 0;

	while ((p = strstr(p, "#define PH_ERR_")) != NULL) {
		p = strchr(p, '"');
		cr_assert_not_null(p);
		q = strchr(++p, '"');
		cr_assert(q != NULL && q - p < (long)sizeof code);
		memcpy(code, p, (size_t)(q - p));
		code[q - p] = '\0';
		cr_expect_not_null(client_exit_row_err(code),
		    "error code %s has no row in client-exit.c", code);
		n++;
	}
	cr_expect_geq(n, 18, "found only %d error codes in protocol.h", n);
	free(h);
}

Test(client_exit, every_close_code_has_a_row)
{
	char	*h = protocol_h(), *p = h, *end;
	long	 code;
	int	 n = 0;

	p = strstr(h, "enum ph_close {");
	cr_assert_not_null(p);
	end = strstr(p, "};");
	while ((p = strstr(p, "PH_CLOSE_")) != NULL && p < end) {
		p = strchr(p, '=');
		code = strtol(p + 1, &p, 10);
		cr_expect_not_null(client_exit_row_close((int)code),
		    "close code %ld has no row in client-exit.c", code);
		n++;
	}
	cr_expect_geq(n, 13, "found only %d close codes in protocol.h", n);
	/* Not porthole's, but what a broken connection reads as. */
	cr_expect_not_null(client_exit_row_close(1006));
	free(h);
}

/* No line carries a bare code: no "(limit)", no "code 4429". */
static void
words_only(const char *line, const char *code)
{
	char	 paren[80];

	snprintf(paren, sizeof paren, "(%s)", code);
	cr_expect(strstr(line, paren) == NULL, "raw code in: %s", line);
	cr_expect(strstr(line, "code 4") == NULL && strstr(line, "code 1") == NULL,
	    "raw close code in: %s", line);
}

Test(client_exit, lines_say_words)
{
	struct client_end e = { "ps", "web-1", "abc", "limit",
	    "the agent has 4 sessions (--max-sessions-per-agent)", 4429, "", NULL };
	char	*line;
	int	 status = 0;

	line = client_exit_line(&e, "output may be truncated", &status);
	cr_assert_not_null(line);
	cr_expect_eq(status, 255);
	cr_expect(strstr(line, "--max-sessions-per-agent") != NULL, "%s", line);
	cr_expect(strstr(line, "try again") != NULL, "%s", line);
	cr_expect(strstr(line, "truncated") == NULL, "refused, yet: %s", line);
	words_only(line, "limit");
	free(line);

	e.err_code = NULL;	/* the close code alone */
	e.close_code = 4502;
	line = client_exit_line(&e, "output may be truncated", &status);
	cr_expect_str_eq(line, "agent web-1 (abc) was lost mid-session; output may "
	    "be truncated; 'porthole ls' shows whether it is back");
	free(line);

	e.agent_name = NULL;	/* fan-out names the agent itself */
	e.close_code = 1006;
	line = client_exit_line(&e, NULL, &status);
	cr_expect_str_eq(line, "lost the connection to the relay mid-session with "
	    "the agent; run the command again");
	free(line);

	e.close_cause = "relay shutting down: run it again";
	line = client_exit_line(&e, "no file was written", &status);
	cr_expect_str_eq(line, "relay shutting down: run it again; no file was written");
	free(line);
}

Test(client_exit, every_row_says_what_and_fails)
{
	const char *codes[] = { PH_ERR_UNAUTHORIZED, PH_ERR_FORBIDDEN, PH_ERR_NO_AGENT,
	    PH_ERR_SID_REUSED, PH_ERR_VERSION, PH_ERR_LIMIT, PH_ERR_TIMEOUT,
	    PH_ERR_AGENT_LOST, PH_ERR_INTERNAL, PH_ERR_BAD_MESSAGE };
	struct client_end e = { "exec", "n", "i", NULL, "m", 0, NULL, NULL };
	size_t	 i;
	char	*line;
	int	 status;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		e.err_code = codes[i];
		line = client_exit_line(&e, "t", &status);
		cr_assert_not_null(line);
		cr_expect(isalpha((unsigned char)line[0]), "%s", line);
		cr_expect_eq(status, 255, "%s", codes[i]);
		words_only(line, codes[i]);
		free(line);
	}
}

/* attach's refusals are the agent's words, not another operation's hint. */
Test(client_exit, attach_refusals_say_the_agents_words)
{
	struct client_end e = { "attach", "web-1", "abc", PH_ERR_CONFLICT,
	    "session 12ab is attached elsewhere: detach it there first (~d)",
	    PH_CLOSE_CONFLICT, NULL, NULL };
	char	*line;
	int	 status;

	line = client_exit_line(&e, NULL, &status);
	cr_assert_str_eq(line, "cannot attach on web-1 (abc): session 12ab is "
	    "attached elsewhere: detach it there first (~d)");
	cr_assert_eq(status, 255);
	free(line);
	e.err_code = PH_ERR_UNSUPPORTED;
	e.err_message = "session 12ab runs 'exec', not a shell on a terminal";
	line = client_exit_line(&e, NULL, &status);
	cr_assert_null(strstr(line, "upgrade the agent"), "%s", line);
	cr_assert_not_null(strstr(line, "runs 'exec'"), "%s", line);
	free(line);
	/* Another operation's conflict keeps its row. */
	e.op = "exec";
	e.err_code = PH_ERR_CONFLICT;
	line = client_exit_line(&e, NULL, &status);
	cr_assert_not_null(strstr(line, "give each agent its own id"), "%s", line);
	free(line);
}
