import { invalidArgument } from './check.js'

/**
 * Parameters by name: `peer.call('initialize', byName({ processId: 1 }))` sends JSON-RPC `params` as
 * that one object instead of an array, as LSP servers and other by-name JSON-RPC peers expect. Also
 * for `notify(path, byName(...))` and as the only argument of a `remote` method.
 *
 * Receiving works without it: by-name params reach the handler as its one argument.
 */
export class ByName {
  /** @internal */
  constructor(readonly params: object) {}
}

export function byName(params: object): ByName {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw invalidArgument('byName(params)', 'an object (not an array)', params)
  return new ByName(params)
}

/** The JSON-RPC `params` of a call's arguments: the array itself, or the object of a lone `byName(...)`. */
export function paramsOf(args: readonly unknown[]): readonly unknown[] | object {
  return args.length === 1 && args[0] instanceof ByName ? args[0].params : args
}
