import { z } from 'zod';
import { section } from '../../config/types.js';
import { actionListSchema } from '../shared/attribute-actions.js';
import { attributesMatchSchema } from '../shared/match.js';

/** A resource has no records of its own to match, so only resource-level properties are allowed. */
const RESOURCE_MATCH_KEYS = ['match_type', 'services', 'resources'] as const;

export const resourceConfigSchema = section({
  /** Applied in order to each resource's attributes (the OTel resource processor's key). */
  attributes: actionListSchema.min(1, 'at least one action is needed'),
  /** Act only on resources that match (services, resource attributes). */
  include: attributesMatchSchema(RESOURCE_MATCH_KEYS).optional(),
  /** Leave resources that match alone. */
  exclude: attributesMatchSchema(RESOURCE_MATCH_KEYS).optional(),
});

export type ResourceConfig = z.output<typeof resourceConfigSchema>;
