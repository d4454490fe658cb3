/*
 * testabiminor.c
 *     A plugin built for a newer minor version of this ABI: it may call host
 *     services this teleport lacks, so the loader must refuse it.
 */
#include <stdlib.h>

#include <teleport/teleport.h>

const tp_plugin_info *teleport_plugin_info(void);

/* init: must never run. */
static tp_result
testabiminor_init(const tp_host_api *host, void *callbacks)
{
	(void) host;
	(void) callbacks;
	abort();
}

/* The identity block, one minor version ahead. */
const tp_plugin_info *
teleport_plugin_info(void)
{
	static const tp_plugin_info info = {
		sizeof(tp_plugin_info), TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR + 1,
		TP_PLUGIN_TRANSPORT, "testabiminor", "9.9", "from a newer teleport",
		NULL, testabiminor_init
	};

	return &info;
}
