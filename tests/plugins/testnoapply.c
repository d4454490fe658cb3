/*
 * testnoapply.c
 *     An applier that forgets its required apply callback.
 */
#include <teleport/teleport.h>

/* init: sets nothing. */
static tp_result
testnoapply_init(const tp_host_api *host, void *callbacks)
{
	(void) callbacks;
	(void) host;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_APPLIER, "testnoapply", "0.1",
				"an applier without apply", NULL, testnoapply_init)
