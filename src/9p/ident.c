/*
 * ident.c - who a Tattach is.  The connection says, never the message: a
 * peer's uid comes from its credentials (stream.c); a client may not claim
 * another user, except root, who may act for any (as the kernel's v9fs
 * does with access=user); a peer of unknown identity, or any on a plain
 * listener, is the anonymous user; a node (TLS, the cluster key) names the
 * user itself.
 */
#include <errno.h>
#include <string.h>

#include "p9.h"

int
p9_attach_ident(
    const struct p9_req *r, uid_t anon_uid, gid_t anon_gid, struct p9_ident *id)
{
	const struct p9_peer *peer = p9_conn_peer(r->conn);
	uint32_t n_uname = r->in.u.attach.n_uname;
	const char *uname = r->in.u.attach.uname;

	memset(id, 0, sizeof *id);
	id->gid = (gid_t)-1;
	if (peer->node && !peer->anon) {
		/* a node holds the cluster key: it names the user, as slurmd
		 * trusts munge; its root is ours unless squashed */
		if (n_uname == P9_NONUNAME || (n_uname == 0 && peer->squash_root)) {
			id->uid = anon_uid;
			id->gid = anon_gid;
		} else {
			id->uid = n_uname;
		}
	} else if (!peer->has_cred || peer->anon) {
		id->uid = anon_uid;
		id->gid = anon_gid;
	} else if (peer->uid == 0) {
		if (n_uname != P9_NONUNAME)
			id->uid = n_uname;
		else if (uname && *uname && strcmp(uname, "root"))
			id->name = uname;
	} else {
		if (n_uname != P9_NONUNAME && n_uname != peer->uid)
			return -EPERM;
		id->uid = peer->uid;
		id->gid = peer->gid;
	}
	return 0;
}
