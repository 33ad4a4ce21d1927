/*
 * fuzz_s3.c - libFuzzer target for what the S3 client reads from the
 * network (src/s3/): a ListObjectsV2 page, an <Error> made into a line, a
 * credentials document, an UploadId, and the canonical query of the input
 * taken as a URL's query.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/s3.h"
#include "s3-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_reply		 r = { .max = 4096 };
	struct ph_s3_entry	*e = NULL;
	struct s3_creds		 c;
	size_t			 n = 0;
	char			*token = NULL, *cause = NULL, *s, *q;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (s3_list_page(s, size, "art/", 100, &e, &n, &token, &cause) != 0)
		free(cause);
	free(token);
	s3_entries_free(e, n);

	s3_reply_add(&r, data, size);
	free(s3_error_text(403, &r));
	s3_reply_clear(&r);

	if (s3_creds_parse(s, size, &c, &cause) == 0)
		s3_creds_clear(&c);
	else
		free(cause);

	free(s3_xml_tag(s, size, "UploadId", NULL));

	cause = NULL;
	if ((q = ph_s3_query_canon_raw(s, &cause)) != NULL)
		free(q);
	free(cause);
	free(s);
	return 0;
}
