# Lo que salió mal, con las palabras de nuestras páginas de error y del selector.

## Títulos de la página de error

error-heading-unavailable = Inténtalo de nuevo en un momento
error-heading-not-found = Página no encontrada
error-heading-upstream = Tu servidor no pudo iniciar tu sesión
error-heading-too-many = Demasiados inicios de sesión ahora mismo
error-heading-cannot-continue = Este inicio de sesión no puede continuar

## Solicitudes que no podemos leer

error-not-found = No hay nada en esta dirección.
error-timeout = Esto tardó demasiado. Inténtalo de nuevo.
error-unavailable = El servicio no está disponible por el momento. Inténtalo de nuevo en un momento.
error-bad-location = La dirección a la que continuar no es válida.
error-request-too-large = La solicitud de inicio de sesión es demasiado grande.
error-request-not-form = La solicitud de inicio de sesión no se envió como formulario.
error-request-not-text = La solicitud de inicio de sesión no es un texto válido.
error-request-malformed = La solicitud de inicio de sesión está mal formada ({ $detail }).
error-callback-malformed = La dirección a la que volviste está mal formada.
error-form-unreadable = No se pudo leer el formulario.
error-choose-allow-deny = Elige Permitir o Denegar.
error-csrf = El formulario no se envió desde esta página de inicio de sesión. Recarga la página e inténtalo de nuevo.
error-cross-site = Este formulario se envió desde otro sitio. Vuelve a la aplicación e inicia sesión de nuevo.

## La aplicación y su solicitud

error-unknown-client = La aplicación que te envió aquí no está registrada en este servicio.
error-no-client-id = La solicitud no indica ninguna aplicación (falta client_id).
error-no-redirect-uri = La aplicación no dijo adónde devolverte (falta redirect_uri).
error-unregistered-redirect = La aplicación quiere devolverte a una dirección que no ha registrado.
error-client-gone = La aplicación en la que ibas a iniciar sesión ya no está registrada.
error-client-address-invalid = La dirección de la aplicación no es válida.

## El inicio de sesión

error-expired = Este inicio de sesión caducó o ya se completó. Vuelve a la aplicación y empieza de nuevo.
error-pushed-expired = Esta solicitud de inicio de sesión caducó o ya se usó. Vuelve a la aplicación y empieza de nuevo.
error-other-browser = Este inicio de sesión empezó en otro navegador, o tu navegador no guardó nuestra cookie.
    Vuelve a la aplicación y empieza de nuevo.
error-callback-no-state = El servidor te devolvió sin la información que necesitamos. Empieza de nuevo desde la aplicación.
error-mix-up = Esta respuesta llegó de un servidor distinto del que elegiste. Empieza de nuevo desde la aplicación.
error-upstream-reported = Tu servidor informó de un error ({ $error }). Puedes intentarlo de nuevo o elegir otro servidor.
error-upstream-no-code = Tu servidor te devolvió sin un código de inicio de sesión. Inténtalo de nuevo.
error-app-changed = Nuestro registro en tu servidor cambió mientras iniciabas sesión. Inténtalo de nuevo.
error-account-check-failed = { $instance } no respondió cuando comprobamos tu cuenta ({ $detail }).
    Inténtalo de nuevo en un momento.
error-wrong-account = Pediste iniciar sesión como { $expected }, pero { $instance } te identificó como { $actual }.
    Cambia de cuenta allí o vuelve a elegir tu servidor.
error-identity = { $instance } no identificó bien tu cuenta, así que no podemos responder por ella.

## Lo que se escribió en el selector

handle-empty = Escribe tu dirección del Fediverso, como @tu@example.social, o tu servidor, como example.social.
handle-invalid = Eso no parece una dirección del Fediverso ni un nombre de servidor. Prueba con @tu@example.social o example.social.
handle-not-https = Solo se pueden usar servidores con https://.

## El servidor de la persona

upstream-blocked = { $instance } no se puede usar con este servicio.
upstream-unreachable = No pudimos conectar con { $instance }. Revisa cómo está escrito o inténtalo más tarde.
upstream-timeout = { $instance } no respondió a tiempo. Inténtalo más tarde.
upstream-busy = { $instance } está muy ocupado ahora mismo. Inténtalo en unos minutos.
upstream-unavailable = { $instance } tiene problemas ahora mismo. Inténtalo más tarde.
upstream-not-compatible = { $instance } no parece un servidor con el que podamos iniciar tu sesión (Mastodon, Misskey y similares).
upstream-rejected = { $instance } se negó a iniciar tu sesión con nosotros.
upstream-oauth-disabled = { $instance } no permite que las aplicaciones inicien sesión: su administración lo desactivó.
    Inicia sesión con una cuenta de otro servidor.
upstream-no-secure-sign-in = { $instance } no admite un inicio de sesión seguro para aplicaciones: es demasiado antiguo (Misskey anterior a 2023.9,
    o una bifurcación sin su OAuth 2.0). Pide a su administración que lo actualice o inicia sesión con una cuenta de otro servidor.
upstream-redirected = { $instance } nos envía a otra dirección. Si tu cuenta está en otro servidor, escribe el nombre de ese servidor.
upstream-internal = Algo salió mal al contactar con { $instance }. Inténtalo de nuevo.

## Las reglas del operador

refusal-instance-denied = Este servicio no acepta cuentas de { $instance }: su operador bloqueó ese servidor.
refusal-instance-not-allowed = Este servicio solo acepta cuentas de los servidores que eligió su operador, y { $instance } no es uno de ellos.
refusal-bot = { $handle } es una cuenta bot. Este servicio solo acepta cuentas de personas, no bots.
refusal-too-new = { $handle } es demasiado nueva para iniciar sesión aquí: este servicio acepta cuentas con al menos { $days ->
        [one] un día
       *[other] { $days } días
    } de antigüedad. Inténtalo más tarde.
refusal-age-unknown = Tu servidor no nos dijo cuándo se creó { $handle }, y este servicio solo acepta cuentas con al menos { $days ->
        [one] un día
       *[other] { $days } días
    } de antigüedad, así que no puede dejarte entrar.
refusal-locked = { $handle } es una cuenta protegida (aprueba a sus seguidores). Este servicio no acepta cuentas protegidas.
refusal-suspended = Tu servidor indica que { $handle } está suspendida. Este servicio no acepta cuentas suspendidas.
refusal-limited = Tu servidor indica que { $handle } está limitada por su moderación. Este servicio no acepta cuentas limitadas.

## Límites contra el abuso

limit-logins = Se han iniciado demasiados inicios de sesión desde tu red o en este servicio hace un momento.
    Espera un poco e inténtalo de nuevo.
limit-picker = Se han probado demasiados servidores desde tu red hace un momento. Espera un poco e inténtalo de nuevo.
limit-new-instances = Este servicio configuró hace poco el inicio de sesión con muchos servidores nuevos y ahora no puede añadir el tuyo.
    Inténtalo más tarde.
limit-api = Demasiadas solicitudes. Espera un poco e inténtalo de nuevo.

## Cerrar sesión

logout-unreadable = No se pudo leer la solicitud de cierre de sesión.
logout-malformed = La solicitud de cierre de sesión está mal formada.
logout-bad-hint = La aplicación envió una solicitud de cierre de sesión no válida (id_token_hint no es nuestro).
logout-client-mismatch = La aplicación envió una solicitud de cierre de sesión no válida (client_id no coincide).
logout-unregistered-redirect = La aplicación quiere enviarte a una dirección que no ha registrado.
logout-csrf = El formulario no se envió desde nuestra página de cierre de sesión. Vuelve a la aplicación y cierra sesión de nuevo.
