/** An error line announced to screen readers when it appears (empty: nothing shown). */
export function FormError({ text }: { text: string }) {
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

/** "Saved" or an error under a form: polite status, or an alert for errors. */
export function SaveStatus({ text, error }: { text: string; error?: boolean }) {
  return (
    <p class={error ? "error" : "muted"} role={error ? "alert" : "status"}>
      {text}
    </p>
  );
}
