import { isAllowedSegment } from './namespace.js'

/** Proxies created per path, capped so that dynamic property names cannot grow memory without bound. */
const CACHE_LIMIT = 4096

export type Invoke = (path: string, args: unknown[]) => unknown

/**
 * Builds the `remote` proxy: property access extends the path, a call invokes it. No code generation;
 * child proxies are cached per path so a hot call site allocates no proxy.
 */
export function createRemoteProxy(invoke: Invoke): unknown {
  const cache = new Map<string, unknown>()
  const make = (path: string): unknown =>
    new Proxy(() => {}, {
      get(_target, key) {
        // Reserved names (then, toJSON, toString, valueOf, constructor, __proto__...) are never paths: the
        // proxy is not thenable, and converting it to a string or JSON sends nothing.
        if (typeof key !== 'string' || key === 'toJSON' || !isAllowedSegment(key)) return undefined
        const child = path === '' ? key : `${path}.${key}`
        let proxy = cache.get(child)
        if (proxy === undefined) {
          proxy = make(child)
          if (cache.size < CACHE_LIMIT) cache.set(child, proxy)
        }
        return proxy
      },
      apply(_target, _self, args) {
        return invoke(path, args)
      },
      // The proxy is a path, not an object: nothing can be defined on it or read from its target.
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    })
  return make('')
}
