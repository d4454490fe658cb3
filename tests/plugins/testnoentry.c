/*
 * testnoentry.c
 *     A shared object that is not a teleport plugin: it exports a function,
 *     but not teleport_plugin_info.
 */
int			not_a_teleport_plugin(void);

/* Some other library's function. */
int
not_a_teleport_plugin(void)
{
	return 42;
}
