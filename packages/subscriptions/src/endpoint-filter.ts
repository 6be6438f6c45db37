/** An endpoint's filters: empty lists mean "everything" (docs/API.md, webhook endpoints). */
export interface EndpointFilter {
  eventTypes: readonly string[];
  environments: readonly string[];
}

export function endpointWants(endpoint: EndpointFilter, eventType: string, environment: string): boolean {
  const typeOk = endpoint.eventTypes.length === 0 || endpoint.eventTypes.includes(eventType);
  const environmentOk = endpoint.environments.length === 0 || endpoint.environments.includes(environment);
  return typeOk && environmentOk;
}
