# As páginas que uma pessoa vê. As mensagens são HTML: os argumentos são
# escapados, o texto em si não.

## Comum

sign-in-title = Entrar
continue = Continuar

## Escolha do servidor (login.html)

login-title = Entrar com o Fediverso
login-heading = Entrar em { $client }
login-intro = com sua conta do Fediverso (Mastodon e servidores compatíveis).
login-label = Seu endereço ou servidor
login-hint = Por exemplo <code>@voce@example.social</code> ou só <code>example.social</code>.
    Você entra no seu próprio servidor; nunca vemos sua senha.
login-choose-server = Ou escolha um servidor:

## Consentimento (consent.html)

consent-title = Permitir acesso
consent-heading = { $client } quer saber quem você é
consent-signed-in-as = Você entrou como <strong>{ $handle }</strong>.
consent-will-receive = Se você continuar, { $client } vai receber:
consent-item-identifier = um identificador fixo da sua conta
consent-item-profile = seu nome de exibição, nome de usuário e endereço ({ $handle })
consent-item-links = links para seu perfil e seu avatar
consent-item-offline = acesso contínuo enquanto você estiver fora, até você ou o aplicativo revogar
consent-no-posting = Ele não vai poder publicar, ler suas mensagens nem agir em seu nome.
consent-return-to = Depois você vai voltar para <strong>{ $host }</strong>.
consent-allow = Permitir
consent-deny = Negar
consent-not-you = Não é você? <a href="{ $switch }">Usar outra conta ou servidor</a>.

## Erros (error.html)

error-title = Algo deu errado
error-restart = Escolher seu servidor de novo
error-go-back = Volte ao aplicativo de onde você veio e entre de novo.
    Se isso continuar acontecendo, avise os responsáveis pelo aplicativo.

## Voltando ao aplicativo (form_post.html)

form-post-title = Voltando para { $host }
form-post-noscript = Seu navegador não executa scripts: toque em Continuar para voltar para { $host }.

## Sair (logout.html)

logout-title = Sair
logout-done-heading = Você saiu
logout-done-text = Você não está mais conectado a { $service } neste navegador.
    Os aplicativos em que você entrou podem manter você conectado até você sair neles também.
logout-confirm-heading = Sair?
logout-confirm-client = { $client } pede para você sair de { $service } neste navegador.
logout-confirm = Sair de { $service } neste navegador.
logout-signed-in-as = Você entrou como <strong>{ $handle }</strong>.
logout-button = Sair
logout-not-asked = Se você não pediu para sair, feche esta página: você continua conectado.

## Nossa página para servidores da família Misskey (client_information.html)

client-info-title = Sobre este aplicativo
client-info-text = { $name } permite entrar em outros sites com sua conta do Fediverso.
    Esta página informa aos servidores da família Misskey quem está pedindo quando você entra por lá.
client-info-about = Sobre { $name }
