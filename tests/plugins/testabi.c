/*
 * testabi.c
 *     A plugin built for another ABI version than this teleport's: the
 *     loader must refuse it before calling its init. Built twice:
 *     testabimajor (next major version) and testabiminor (a newer minor
 *     version of this major, which may call host services this teleport
 *     lacks), by TESTABI_MAJOR and TESTABI_MINOR.
 */
#include <stdlib.h>

#include <teleport/teleport.h>

#if !defined(TESTABI_MAJOR) || !defined(TESTABI_MINOR) || !defined(TESTABI_NAME)
#error "build with -DTESTABI_NAME, -DTESTABI_MAJOR and -DTESTABI_MINOR (see Makefile.am)"
#endif

const tp_plugin_info *teleport_plugin_info(void);

/* init: must never run. */
static tp_result
testabi_init(const tp_host_api *host, void *callbacks)
{
	(void) host;
	(void) callbacks;
	abort();
}

/* The identity block, with the version this build pretends to have. */
const tp_plugin_info *
teleport_plugin_info(void)
{
	static const tp_plugin_info info = {
		sizeof(tp_plugin_info), TESTABI_MAJOR, TESTABI_MINOR,
		TP_PLUGIN_TRANSPORT, TESTABI_NAME, "9.9", "built for another ABI",
		NULL, testabi_init
	};

	return &info;
}
