import type { AnyFactory } from './component.js';
import type { ComponentKind } from './component-kind.js';

/** Factories by kind and type name, as the OTel Collector's component registry keeps them. */
export class ComponentRegistry {
  private readonly factories = new Map<string, AnyFactory>();

  register(factory: AnyFactory): this {
    const key = `${factory.kind}:${factory.type}`;
    if (this.factories.has(key)) throw new Error(`${factory.kind} type "${factory.type}" is registered twice`);
    this.factories.set(key, factory);
    return this;
  }

  get(kind: ComponentKind, type: string): AnyFactory | undefined {
    return this.factories.get(`${kind}:${type}`);
  }

  types(kind: ComponentKind): string[] {
    return [...this.factories.values()]
      .filter((f) => f.kind === kind)
      .map((f) => f.type)
      .sort();
  }
}
