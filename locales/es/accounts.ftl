# La cuenta, la aplicación y volver con un clic (consent.html, login.html).
# Los mensajes son HTML: los argumentos se escapan.

## El selector: cuentas usadas en este navegador

accounts-list-label = Cuentas que usaste en este navegador
accounts-continue-as = Continuar como { $handle }
accounts-forget = Olvidar
accounts-forget-label = Olvidar { $handle } en este navegador
accounts-another = Usar otra cuenta

## Consentimiento: la cuenta y la aplicación

accounts-your-server = Tu servidor: { $server }
accounts-client-logo = Logotipo de { $client }
accounts-client-about = Acerca de { $client }
accounts-client-privacy = Política de privacidad
accounts-client-terms = Términos del servicio
