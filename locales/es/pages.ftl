# Las páginas que ve una persona. Los mensajes son HTML: los argumentos se
# escapan, el texto en sí no.

## Común

sign-in-title = Iniciar sesión
continue = Continuar

## Selector (login.html)

login-title = Inicia sesión con el Fediverso
login-heading = Inicia sesión en { $client }
login-intro = con tu cuenta del Fediverso (Mastodon y servidores compatibles).
login-label = Tu dirección o servidor
login-hint = Por ejemplo <code>@tu@example.social</code> o solo <code>example.social</code>.
    Iniciarás sesión en tu propio servidor; nunca vemos tu contraseña.
login-choose-server = O elige un servidor:

## Consentimiento (consent.html)

consent-title = Permitir acceso
consent-heading = { $client } quiere saber quién eres
consent-signed-in-as = Has iniciado sesión como <strong>{ $handle }</strong>.
consent-will-receive = Si continúas, { $client } recibirá:
consent-item-identifier = un identificador estable de tu cuenta
consent-item-profile = tu nombre visible, tu nombre de usuario y tu dirección ({ $handle })
consent-item-links = enlaces a tu perfil y a tu avatar
consent-item-offline = acceso continuo mientras no estés, hasta que tú o la aplicación lo revoquéis
consent-no-posting = No podrá publicar, leer tus mensajes ni actuar en tu nombre.
consent-return-to = Después volverás a <strong>{ $host }</strong>.
consent-allow = Permitir
consent-deny = Denegar
consent-not-you = ¿No eres tú? <a href="{ $switch }">Usa otra cuenta u otro servidor</a>.

## Errores (error.html)

error-title = Algo salió mal
error-restart = Vuelve a elegir tu servidor
error-go-back = Vuelve a la aplicación de la que venías e inicia sesión de nuevo.
    Si sigue ocurriendo, avisa a los responsables de la aplicación.

## Volver a la aplicación (form_post.html)

form-post-title = Volviendo a { $host }
form-post-noscript = Tu navegador no ejecuta scripts: pulsa Continuar para volver a { $host }.

## Cerrar sesión (logout.html)

logout-title = Cerrar sesión
logout-done-heading = Has cerrado sesión
logout-done-text = Ya no tienes la sesión iniciada en { $service } en este navegador.
    Las aplicaciones en las que iniciaste sesión pueden mantenerla abierta hasta que también la cierres allí.
logout-confirm-heading = ¿Cerrar sesión?
logout-confirm-client = { $client } te pide cerrar sesión en { $service } en este navegador.
logout-confirm = Cerrar sesión en { $service } en este navegador.
logout-signed-in-as = Has iniciado sesión como <strong>{ $handle }</strong>.
logout-button = Cerrar sesión
logout-not-asked = Si no pediste cerrar sesión, cierra esta página: seguirás con la sesión iniciada.

## Nuestra página para los servidores de la familia Misskey (client_information.html)

client-info-title = Acerca de esta aplicación
client-info-text = { $name } permite iniciar sesión en otros sitios web con una cuenta del Fediverso.
    Esta página indica a los servidores de la familia Misskey quién pregunta cuando inicias sesión allí.
client-info-about = Acerca de { $name }
