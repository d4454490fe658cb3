/*
 * testsmallinfo.c
 *     A plugin whose identity block claims to be smaller than ABI 1.0's: the
 *     loader must not read past what the plugin declared.
 */
#include <teleport/teleport.h>

const tp_plugin_info *teleport_plugin_info(void);

/* The identity block, with a size that covers only the version fields. */
const tp_plugin_info *
teleport_plugin_info(void)
{
	static const tp_plugin_info info = {
		(uint32_t) offsetof(tp_plugin_info, name), TELEPORT_ABI_MAJOR, 0,
		TP_PLUGIN_TRANSPORT, NULL, NULL, NULL, NULL, NULL
	};

	return &info;
}
