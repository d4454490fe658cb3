/*
 * testgood2.c
 *     A second library that claims the name "testgood": the loader must
 *     refuse the pair.
 */
#include "testgood.c"
