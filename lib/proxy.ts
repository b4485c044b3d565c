import { isAllowedSegment } from './namespace.js'

const DISPOSE: symbol | undefined = (Symbol as { dispose?: symbol }).dispose

/** Children cached per proxy, capped so that dynamic property names cannot grow memory without bound. */
const CACHE_LIMIT = 1024

export type Invoke = (path: string, args: unknown[]) => unknown

/**
 * Builds the `remote` proxy: property access extends the path, a call invokes it. No code generation;
 * each proxy caches its children by name, so a hot call site allocates nothing and builds no string.
 */
export function createRemoteProxy(invoke: Invoke, dispose?: () => void): unknown {
  const make = (path: string): unknown => {
    const children = new Map<string, unknown>()
    return new Proxy(() => {}, {
      get(_target, key) {
        // A stub's root (refs.ts) frees it with `using` / `stub[Symbol.dispose]()`.
        if (dispose !== undefined && path === '' && typeof key === 'symbol' && key === DISPOSE) return dispose
        let child = children.get(key as string)
        if (child !== undefined) return child
        // Reserved names (then, toJSON, toString, valueOf, constructor, __proto__...) are never paths: the
        // proxy is not thenable, and converting it to a string or JSON sends nothing.
        if (typeof key !== 'string' || key === 'toJSON' || !isAllowedSegment(key)) return undefined
        // As on any function: `remote.add.call(null, 1, 2)`, `.apply(null, [1, 2])`, `.bind(null, 1)`.
        // A remote method named call, apply or bind is reached with `peer.call('a.call', args)`.
        if (key === 'call' || key === 'apply' || key === 'bind') {
          child = functionMember(key, path, invoke)
          children.set(key, child)
          return child
        }
        child = make(path === '' ? key : `${path}.${key}`)
        if (children.size < CACHE_LIMIT) children.set(key, child)
        return child
      },
      apply(_target, _self, args) {
        return invoke(path, args)
      },
      // The proxy is a path, not an object: nothing can be defined on it.
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    })
  }
  return make('')
}

/** `call`, `apply` and `bind` of a remote method, with Function.prototype's meaning (`this` is ignored). */
function functionMember(key: 'call' | 'apply' | 'bind', path: string, invoke: Invoke): (...args: any[]) => unknown {
  switch (key) {
    case 'call':
      return (_self: unknown, ...args: unknown[]) => invoke(path, args)
    case 'apply':
      return (_self: unknown, args?: ArrayLike<unknown>) => invoke(path, args == null ? [] : Array.from(args))
    case 'bind':
      return (_self: unknown, ...bound: unknown[]) => (...args: unknown[]) => invoke(path, [...bound, ...args])
  }
}
