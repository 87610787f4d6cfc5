/** A template's text with its `<*>` placeholders marked; with `params`, each placeholder shows the value it held. */
export function TemplateText(props: { text: string; params?: string[] }) {
  const parts = props.text.split('<*>');
  return (
    <span class="template-text">
      {parts.map((part, i) => (
        <>
          {part}
          {i < parts.length - 1 && (
            <span class="param" title={props.params ? `parameter ${i + 1}` : undefined}>
              {props.params?.[i] ?? '<*>'}
            </span>
          )}
        </>
      ))}
    </span>
  );
}
