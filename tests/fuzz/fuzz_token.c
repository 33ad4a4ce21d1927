/*
 * fuzz_token.c - libFuzzer target for the token decoder (src/token.c).
 *
 * Every input goes, as a NUL-terminated copy, through ph_token_verify
 * against a fixed key set, ph_token_decode and ph_b64url_decode.  Because a
 * mutated token almost never keeps a good signature, two shapes of input
 * reach deeper:
 *   - input starting with '{' is taken as a claims object, signed with the
 *     fixed private key and verified, so the claim checks see arbitrary JSON;
 *   - input starting with "-----" is taken as PEM for ph_keyset_add_pem;
 *   - input starting with "open:" is taken as an `open` (JSON): its signing
 *     input is built, it is signed with the fixed key and checked against a
 *     token bound to it (ph_opensig_verify), and checked unsigned as given;
 *   - input starting with "revoked:" is taken as a revocation list file
 *     (through a memfd, so revoked.c reads it as it reads PORTHOLE_REVOKED);
 *   - input starting with "proof:" is taken as a listing's Porthole-Proof
 *     header and checked (listproof.h) against a token bound to the key.
 * The key is fixed (below) and so is the clock, so the seed tokens in
 * corpus/token/, made with this key, verify and the fuzzer starts from
 * accepted tokens.  The key is a test fixture and protects nothing.
 *
 * Build: clang -fsanitize=fuzzer,address -D_GNU_SOURCE -Iinclude
 *        src/token.c src/opensig.c src/sigenc.c src/listproof.c src/revoked.c src/util.c
 *        tests/fuzz/fuzz_token.c -lcrypto -ljansson
 */
#include <sys/mman.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/listproof.h"
#include "porthole/opensig.h"
#include "porthole/revoked.h"
#include "porthole/token.h"

#define FUZZ_NOW	1700000000	/* the clock the seeds were made for */

static const char fuzz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIPhoRA4hSt3KB3Wvw0o5JhAlqriJ2dOsi4OcwBwR80ms\n"
    "-----END PRIVATE KEY-----\n";

static struct ph_key	*fuzz_key;
static struct ph_keyset	 fuzz_ks;
static char		*fuzz_header64;	/* base64url of the header */

static void
fuzz_init(void)
{
	char	*cause = NULL, *hdr;
	size_t	 n;

	fuzz_key = ph_key_from_pem(fuzz_key_pem, sizeof fuzz_key_pem - 1, 0,
	    "fuzz key", &cause);
	if (fuzz_key == NULL ||
	    ph_keyset_add_pem(&fuzz_ks, fuzz_key_pem, sizeof fuzz_key_pem - 1,
	    "fuzz key", &cause) != 0)
		abort();
	n = strlen(ph_key_kid(fuzz_key)) + 64;
	if ((hdr = malloc(n)) == NULL)
		abort();
	snprintf(hdr, n, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
	    ph_key_kid(fuzz_key));
	fuzz_header64 = ph_b64url_encode(hdr, strlen(hdr));
	free(hdr);
}

/* Verify a token and drop the result. */
static void
fuzz_verify(const char *token)
{
	struct ph_claims	 c;
	char			*cause = NULL;
	json_t			*labels;

	if (ph_token_verify(&fuzz_ks, token, FUZZ_NOW, &c, &cause) == 0) {
		(void)ph_claims_allows(&c, "shell");
		labels = json_pack("{s:s}", "cluster", "prod");
		(void)ph_claims_labels_allow(&c, labels, &cause);
		json_decref(labels);
		ph_claims_free(&c);
	}
	free(cause);
}

/* Sign the input as a claims object and verify the token. */
static void
fuzz_claims(const uint8_t *data, size_t size)
{
	char	*c64, *input, *sig, *token, *cause = NULL;
	size_t	 n;

	if ((c64 = ph_b64url_encode(data, size)) == NULL)
		return;
	n = strlen(fuzz_header64) + strlen(c64) + 2;
	if ((input = malloc(n)) == NULL) {
		free(c64);
		return;
	}
	snprintf(input, n, "%s.%s", fuzz_header64, c64);
	sig = ph_key_sign_b64url(fuzz_key, input, strlen(input), &cause);
	if (sig != NULL) {
		n = strlen(input) + strlen(sig) + 2;
		if ((token = malloc(n)) != NULL) {
			snprintf(token, n, "%s.%s", input, sig);
			fuzz_verify(token);
			free(token);
		}
	}
	free(sig);
	free(cause);
	free(input);
	free(c64);
}

/* An open: signing input, sign, verify against a token bound to the key. */
static void
fuzz_open(const uint8_t *data, size_t size)
{
	struct ph_claims	 c;
	json_t			*o;
	uint8_t			*in;
	size_t			 n;
	char			*cause = NULL;

	if ((o = json_loadb((const char *)data, size, 0, NULL)) == NULL)
		return;
	memset(&c, 0, sizeof c);
	c.sub = "fuzz";
	c.kind = PH_TOKEN_CLIENT;
	c.jti = "fuzz-jti";
	c.cnf = json_pack("{s:o}", "jwk", ph_key_jwk(fuzz_key));
	(void)ph_opensig_verify(&c, o, FUZZ_NOW, 1, &cause);	/* as given */
	free(cause);
	cause = NULL;
	if (ph_opensig_input(o, c.jti, &in, &n, &cause) == 0)
		free(in);
	free(cause);
	cause = NULL;
	if (json_is_object(o) &&
	    ph_opensig_sign(fuzz_key, c.jti, o, FUZZ_NOW, &cause) == 0 &&
	    ph_opensig_verify(&c, o, FUZZ_NOW, 1, &cause) != 0)
		abort();	/* what was just signed must verify */
	free(cause);
	json_decref(c.cnf);
	json_decref(o);
}

/* A revocation list, read from a file as relay and agent read it. */
static void
fuzz_revoked(const uint8_t *data, size_t size)
{
	struct ph_revoked	 r;
	char			 path[64], *cause = NULL;
	int			 fd;

	if ((fd = memfd_create("revoked", 0)) < 0)
		return;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (ph_revoked_init(&r, path, &cause) == 0) {
			(void)ph_revoked_has(&r, "fuzz-jti");
			(void)ph_revoked_has(&r, "");
			ph_revoked_free(&r);
		}
		free(cause);
	}
	close(fd);
}

/* A listing's proof header, checked for a fixed request. */
static void
fuzz_proof(const char *hdr)
{
	struct ph_listreq	 req = { "GET", "relay.example.com:7443", "/v1/agents",
	    "env=prod" };
	struct ph_claims	 c;
	char			*cause = NULL;

	memset(&c, 0, sizeof c);
	c.sub = "fuzz";
	c.kind = PH_TOKEN_CLIENT;
	c.jti = "fuzz-jti";
	c.cnf = json_pack("{s:o}", "jwk", ph_key_jwk(fuzz_key));
	(void)ph_listproof_verify(&c, hdr, &req, FUZZ_NOW, &cause);
	free(cause);
	json_decref(c.cnf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_keyset	 ks = { NULL, 0 };
	json_t			*h = NULL, *c = NULL;
	char			*s, *cause = NULL;
	uint8_t			*out;

	if (fuzz_key == NULL)
		fuzz_init();
	if (size > 4 * PH_TOKEN_MAX)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	fuzz_verify(s);

	if (ph_token_decode(s, &h, &c, &cause) == 0) {
		json_decref(h);
		json_decref(c);
	}
	free(cause);
	cause = NULL;

	if ((out = malloc(size + 1)) != NULL) {
		(void)ph_b64url_decode(s, size, out, size);
		(void)ph_b64url_decode(s, strlen(s), out, size / 2);
		free(out);
	}

	if (size > 0 && data[0] == '{')
		fuzz_claims(data, size);
	if (size >= 5 && memcmp(data, "open:", 5) == 0)
		fuzz_open(data + 5, size - 5);
	if (size >= 8 && memcmp(data, "revoked:", 8) == 0)
		fuzz_revoked(data + 8, size - 8);
	if (size >= 6 && memcmp(data, "proof:", 6) == 0)
		fuzz_proof(s + 6);
	if (size > 5 && memcmp(data, "-----", 5) == 0) {
		(void)ph_keyset_add_pem(&ks, data, size, "fuzz", &cause);
		free(cause);
		ph_keyset_free(&ks);
	}

	free(s);
	return 0;
}
