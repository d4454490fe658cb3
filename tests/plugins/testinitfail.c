/*
 * testinitfail.c
 *     A plugin whose init fails: the host must stop with a clear message.
 */
#include <teleport/teleport.h>

/* init: refuse, as a plugin that finds its environment unusable would. */
static tp_result
testinitfail_init(const tp_host_api *host, void *callbacks)
{
	(void) callbacks;
	(void) host;
	return TP_ERROR;
}

TELEPORT_PLUGIN(TP_PLUGIN_APPLIER, "testinitfail", "0.1",
				"an applier whose init fails", NULL, testinitfail_init)
