/*
 * testabimajor.c
 *     A plugin built for the next ABI major version: the loader must refuse
 *     it before calling its init.
 */
#include <stdlib.h>

#include <teleport/teleport.h>

const tp_plugin_info *teleport_plugin_info(void);

/* init: must never run. */
static tp_result
testabimajor_init(const tp_host_api *host, void *callbacks)
{
	(void) host;
	(void) callbacks;
	abort();
}

/* The identity block, with a major version this teleport does not speak. */
const tp_plugin_info *
teleport_plugin_info(void)
{
	static const tp_plugin_info info = {
		sizeof(tp_plugin_info), TELEPORT_ABI_MAJOR + 1, 0,
		TP_PLUGIN_TRANSPORT, "testabimajor", "9.9", "from the future",
		NULL, testabimajor_init
	};

	return &info;
}
