/*
 * s3-int.h - what the files of the S3 client share (not installed): the
 * credentials source (s3-creds.c) and the request helper (s3-req.c) the
 * worker (s3-client.c) builds every call on.
 */
#ifndef PORTHOLE_S3_INT_H
#define PORTHOLE_S3_INT_H

#include <stdint.h>
#include <curl/curl.h>

#include "porthole/s3.h"

/* One set of credentials; expiry 0: never (the environment's). */
struct s3_creds {
	char	*akid;
	char	*secret;
	char	*token;
	int64_t	 expiry;
};

/* Where credentials come from; used on the worker thread only. */
struct s3_credsrc {
	int		 from_env;
	char		*url;		/* the ECS endpoint */
	char		*auth;		/* AWS_CONTAINER_AUTHORIZATION_TOKEN */
	char		*auth_file;	/* ..._TOKEN_FILE, read at each fetch */
	int		 margin;	/* refresh this long before expiry (s) */
	size_t		 max_reply;
	struct s3_creds	 cur;
	int64_t		 fetched_at;	/* ph_now() of cur's fetch */
	int		 fetches;
};

/* Pick the source from the environment; no fetch yet. */
int	 s3_credsrc_init(struct s3_credsrc *s, int margin, size_t max_reply,
	    char **cause);
/*
 * Credentials good for at least margin seconds more: fetched (blocking, a
 * few seconds at most) when there are none or they are close to expiry.
 */
const struct s3_creds *s3_creds_current(struct s3_credsrc *s, char **cause);
void	 s3_credsrc_clear(struct s3_credsrc *s);
/* Parse an ECS credentials document (tests). */
int	 s3_creds_parse(const char *json, size_t len, struct s3_creds *out,
	    char **cause);
void	 s3_creds_clear(struct s3_creds *c);

/*
 * An HTTP reply body kept in memory, at most max bytes: s3_reply_add
 * returns n, or 0 once over the bound (as a curl write callback: curl
 * then stops the transfer).
 */
struct s3_reply {
	char	*buf;
	size_t	 len;
	size_t	 max;
	int	 too_big;
};
size_t	 s3_reply_add(struct s3_reply *r, const void *p, size_t n);
void	 s3_reply_clear(struct s3_reply *r);

/*
 * S3's error for a reply: "STATUS Code: Message" made printable, or the
 * transport's error.  malloc'd.
 */
char	*s3_error_text(long status, const struct s3_reply *r);
/*
 * The text of the first <tag>...</tag> in p[0..n), XML entities decoded,
 * from *from on (advanced past it when from is not NULL); NULL if none.
 */
char	*s3_xml_tag(const char *p, size_t n, const char *tag, size_t *from);

/*
 * One page of ListObjectsV2 in buf: the objects under prefix (keys made
 * relative to it) appended to *ents (*nents of them, at most max, more is
 * an error); *token the next page's continuation token, or NULL on the
 * last page.  -1 with *cause.
 */
int	 s3_list_page(const char *buf, size_t len, const char *prefix, size_t max,
	    struct ph_s3_entry **ents, size_t *nents, char **token, char **cause);
void	 s3_entries_free(struct ph_s3_entry *e, size_t n);

#endif
