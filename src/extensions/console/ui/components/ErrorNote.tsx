import { ApiError } from '../api.js';

export function ErrorNote(props: { error?: Error }) {
  if (!props.error) return null;
  const { error } = props;
  const where = error instanceof ApiError && error.parameter ? ` (parameter ${error.parameter})` : '';
  return (
    <p class="error" role="alert">
      {error instanceof ApiError ? `${error.status}: ` : ''}
      {error.message}
      {where}
    </p>
  );
}
