export type ComponentKind = 'receiver' | 'processor' | 'exporter' | 'extension';
