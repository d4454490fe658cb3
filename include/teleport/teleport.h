/*
 * teleport/teleport.h
 *     Everything a plugin author includes.
 */
#ifndef TELEPORT_TELEPORT_H
#define TELEPORT_TELEPORT_H

#include <teleport/abi.h>
#include <teleport/batch.h>
#include <teleport/plugin.h>
#include <teleport/source.h>
#include <teleport/transport.h>
#include <teleport/applier.h>

#endif							/* TELEPORT_TELEPORT_H */
